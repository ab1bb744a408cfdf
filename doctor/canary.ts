// `--canary`: the proof of the whole path. One mail from `canary.sender`, with a small PDF and a
// unique subject, goes over SMTP to each mailbox that lists the sender; the sieve must keep it in
// INBOX, paperless must fetch it and file a document owned by the sender's user with the declared
// tags, and move the mail to the processed folder. Each hop is timed. Whatever happens, the
// document (and its trash entry), paperless's processed-mail record and the mail are deleted again,
// and the report says what was cleaned up.
import { randomBytes } from "node:crypto";
import { createTransport } from "nodemailer";
import { codedError, hasCode } from "../core/codedError";
import type { Mailbox, Sender } from "../core/types";
import type { Page } from "../providers/paperless/client";
import { fetchAndWait } from "../providers/paperless/mailFetch";
import { canaryPdf } from "./canaryPdf";
import type { DoctorContext, WireProcessedMail } from "./context";
import { connectImap, type ImapTarget } from "./imapSnapshot";
import type { Exercise, Step } from "./output";
import { waitFor } from "./waitFor";

interface WireDocument {
  id: number;
  title: string;
  owner: number | null;
  tags: number[];
}

/** A hop that failed, already recorded as a failed step: it ends this mailbox's canary. */
const HOP_FAILED = "CANARY_HOP_FAILED";

const hopFailed = (what: string) => codedError(HOP_FAILED, what, {});

/** The folders the canary mail is in, by Message-ID (one SEARCH per folder). */
async function whereIs(target: ImapTarget, messageId: string, folders: readonly string[]): Promise<Map<string, number[]>> {
  const client = await connectImap(target);
  try {
    const found = new Map<string, number[]>();
    const existing = new Set((await client.list()).map((f) => f.path));
    for (const folder of folders.filter((f) => existing.has(f))) {
      await client.mailboxOpen(folder);
      const uids = await client.search({ header: { "message-id": messageId } }, { uid: true });
      if (uids && uids.length) found.set(folder, uids);
    }
    return found;
  } finally {
    await client.logout().catch(() => client.close());
  }
}

async function deleteMail(target: ImapTarget, places: ReadonlyMap<string, number[]>): Promise<void> {
  const client = await connectImap(target);
  try {
    for (const [folder, uids] of places) {
      await client.mailboxOpen(folder);
      await client.messageDelete(uids, { uid: true });
    }
  } finally {
    await client.logout().catch(() => client.close());
  }
}

async function canaryFor(
  ctx: DoctorContext,
  mailbox: Mailbox,
  sender: Sender,
  deadline: number,
  steps: Step[],
  cleanup: string[],
): Promise<void> {
  const canary = ctx.config.canary!;
  const id = randomBytes(6).toString("hex");
  const subject = `paperless-mail-ingest canary ${id}`;
  const messageId = `<canary-${id}@paperless-mail-ingest.invalid>`;
  const target = await ctx.imapTarget(mailbox);
  const folders = [mailbox.inboxFolder, mailbox.processedFolder, "Junk", "Spam"];
  let hopStarted = Date.now();
  const hop = (what: string, status: Step["status"], detail?: string) => {
    steps.push({ what: `${mailbox.address}: ${what}`, status, seconds: (Date.now() - hopStarted) / 1000, ...(detail ? { detail } : {}) });
    ctx.progress(`canary ${mailbox.address}: ${what}${detail ? `: ${detail}` : ""}`);
    hopStarted = Date.now();
    if (status === "fail") throw hopFailed(what);
  };
  const until = <T>(what: string, probe: () => Promise<T | undefined>) =>
    waitFor(deadline, what, (line) => ctx.progress(`canary ${mailbox.address}: ${line}`), probe);
  const fail = (what: string, detail: string): never => {
    hop(what, "fail", detail);
    throw hopFailed(what);
  };
  try {
    // 1. SMTP, as the forwarding server would hand it over (opportunistic STARTTLS, as between MTAs).
    try {
      await createTransport({
        host: canary.smtp.host,
        port: canary.smtp.port,
        secure: canary.smtp.port === 465,
        tls: { rejectUnauthorized: false },
        connectionTimeout: 30_000,
        greetingTimeout: 30_000,
        socketTimeout: 60_000,
      }).sendMail({
        from: sender.address,
        to: mailbox.address,
        subject,
        messageId,
        text: "paperless-mail-ingest canary: this mail and its document are deleted again by `npm run doctor -- --canary`.",
        attachments: [{ filename: `canary-${id}.pdf`, content: canaryPdf(subject), contentType: "application/pdf" }],
      });
    } catch (e) {
      fail(`sent over SMTP to ${canary.smtp.host}:${canary.smtp.port}`, (e as Error).message);
    }
    hop(`sent over SMTP to ${canary.smtp.host}:${canary.smtp.port} from ${sender.address}`, "ok");

    // 2. Delivered and kept by the sieve.
    const delivered =
      (await until(`the mail in ${mailbox.inboxFolder}`, async () => {
        const at = await whereIs(target, messageId, folders);
        return at.size ? at : undefined;
      })) ??
      fail(
        `kept in ${mailbox.inboxFolder}`,
        "it never arrived: the sieve discarded it (see mailserver.sieve-installed) or the mailserver did not deliver it (its mail log)",
      );
    if (!delivered.has(mailbox.inboxFolder))
      fail(
        `kept in ${mailbox.inboxFolder}`,
        `it landed in ${[...delivered.keys()].join(", ")}: the spam filter took it, and paperless never looks there`,
      );
    hop(`kept by the sieve, in ${mailbox.inboxFolder}`, "ok");

    // 3. Fetched by paperless.
    const account =
      (await ctx.account(mailbox)) ??
      fail("fetched by paperless", `no mail account ${JSON.stringify(mailbox.accountName)} (see paperless.account)`);
    const [fetched] = await fetchAndWait(ctx.paperless, [{ id: account.id, name: account.name }], {
      deadlineMs: Math.max(0, deadline - Date.now()),
      onProgress: (line) => ctx.progress(`canary fetch: ${line}`),
    });
    hop("fetched by paperless", fetched!.failed ? "fail" : fetched!.confirmed ? "ok" : "warn", fetched!.detail);

    // 4. Filed: owned by the sender's user, with the declared tags.
    const doc =
      (await until("the document", async () => (await documents(ctx, subject))[0])) ??
      fail(
        "filed as a document",
        `no document titled ${JSON.stringify(subject)} appeared (see paperless.backlog and paperless.consume-failures)`,
      );
    const [users, tags] = await Promise.all([ctx.users(), ctx.tags()]);
    const owner = users.find((u) => u.id === doc.owner)?.username ?? `#${doc.owner}`;
    const tagNames = doc.tags.map((t) => tags.find((x) => x.id === t)?.name ?? `#${t}`);
    const missing = sender.tags.filter((t) => !tagNames.includes(t));
    if (owner !== sender.user || missing.length) {
      fail(
        `filed as document #${doc.id}`,
        `owner ${owner} (declared ${sender.user}), tags ${tagNames.join(", ") || "none"}${missing.length ? ` (missing ${missing.join(", ")})` : ""}`,
      );
    }
    hop(`filed as document #${doc.id}, owned by ${owner}, tagged ${tagNames.join(", ")}`, "ok");

    // 5. Moved out of INBOX.
    const moved = await until(`the mail in ${mailbox.processedFolder}`, async () =>
      (await whereIs(target, messageId, [mailbox.processedFolder])).size ? true : undefined,
    );
    hop(
      `moved to ${mailbox.processedFolder}`,
      moved ? "ok" : "fail",
      moved ? undefined : "paperless filed it but did not move the mail (see mailbox.folders)",
    );
  } finally {
    await cleanUp(ctx, mailbox, subject, messageId, target, folders, cleanup);
  }
}

async function documents(ctx: DoctorContext, title: string): Promise<WireDocument[]> {
  const page = await ctx.paperless.request<Page<WireDocument>>(
    "GET",
    `/api/documents/?title__iexact=${encodeURIComponent(title)}&page_size=100`,
  );
  return page.results;
}

/** Removes what the canary left, each step on its own: one failing does not keep the others from running. */
async function cleanUp(
  ctx: DoctorContext,
  mailbox: Mailbox,
  subject: string,
  messageId: string,
  target: ImapTarget,
  folders: string[],
  done: string[],
): Promise<void> {
  const attempt = async (what: string, action: () => Promise<string | undefined>) => {
    try {
      const said = await action();
      if (said) done.push(said);
    } catch (e) {
      done.push(`could not ${what}: ${(e as Error).message}; remove it by hand`);
    }
  };
  await attempt(`delete the document titled ${JSON.stringify(subject)}`, async () => {
    const docs = await documents(ctx, subject);
    if (!docs.length) return undefined;
    for (const d of docs) await ctx.paperless.request("DELETE", `/api/documents/${d.id}/`);
    // Deleted documents go to paperless's trash first.
    await ctx.paperless.request("POST", "/api/trash/", { body: { documents: docs.map((d) => d.id), action: "empty" } });
    return `deleted document ${docs.map((d) => `#${d.id}`).join(", ")} (and emptied it from the trash)`;
  });
  await attempt("delete paperless's processed-mail record of the canary", async () => {
    const page = await ctx.paperless.request<Page<WireProcessedMail>>("GET", "/api/processed_mail/?page_size=100");
    const rows = page.results.filter((r) => r.subject === subject);
    if (!rows.length) return undefined;
    await ctx.paperless.request("POST", "/api/processed_mail/bulk_delete/", { body: { mail_ids: rows.map((r) => r.id) } });
    return `deleted processed-mail record ${rows.map((r) => `#${r.id}`).join(", ")}`;
  });
  await attempt(`delete the canary mail ${messageId} from ${mailbox.address}`, async () => {
    const places = await whereIs(target, messageId, folders);
    if (!places.size) return undefined;
    await deleteMail(target, places);
    return `deleted the canary mail from ${mailbox.address} ${[...places.keys()].join(", ")}`;
  });
}

export async function runCanary(ctx: DoctorContext, deadlineMs: number): Promise<Exercise> {
  const canary = ctx.config.canary;
  if (!canary) {
    return {
      name: "canary",
      status: "fail",
      steps: [
        {
          what: "canary",
          status: "fail",
          seconds: 0,
          detail:
            "no canary configured: set canary.sender (a listed sender) and canary.smtp (host:port of the mailserver's SMTP) in the stack config; see README.md#doctor-canary",
        },
      ],
    };
  }
  const steps: Step[] = [];
  const cleanup: string[] = [];
  for (const mailbox of ctx.config.mailboxes) {
    const sender = mailbox.senders.find((s) => s.address === canary.sender);
    if (!sender) continue;
    try {
      await canaryFor(ctx, mailbox, sender, Date.now() + deadlineMs, steps, cleanup);
    } catch (e) {
      if (!hasCode(e, HOP_FAILED))
        steps.push({ what: `${mailbox.address}: canary`, status: "fail", seconds: 0, detail: (e as Error).message });
    }
  }
  if (!cleanup.length) cleanup.push("nothing was left to clean up");
  const status =
    steps.some((s) => s.status === "fail") || cleanup.some((c) => c.startsWith("could not"))
      ? "fail"
      : steps.some((s) => s.status === "warn")
        ? "warn"
        : "ok";
  return { name: "canary", status, steps, cleanup };
}
