// The fetch after a change, through paperless's API, against real paperless-ngx 3.0.5 and 2.20.15
// each with a real Celery worker (tests/support/paperless/server.ts), reading a real mailbox:
// docker-mailserver's own start-up on Postfix + Dovecot, with the program's account line and
// sieve. The account and rules are the program's (the providers, from the production plan).
// Faults come from the proxy in front of paperless.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MailserverSettings } from "../../core/types";
import { PaperlessClient } from "../../providers/paperless/client";
import { fetchAndWait } from "../../providers/paperless/mailFetch";
import { FETCH_TIMEOUT_ENV, mailFetchProvider, type MailFetchInputs } from "../../providers/paperless/mailFetchProvider";
import { forgetProcessMemory } from "../../providers/processMemory";
import { startFaultProxy, type FaultProxy } from "../support/faultProxy";
import { forwardedMail } from "../support/mailserver/forwardedMail";
import { deployedMailserver } from "../support/mailserver/deployedMailserver";
import { waitFor, type Mailserver } from "../support/mailserver/mailserver";
import { newCredentials } from "../support/mailserver/programFiles";
import { admin, type Admin, type Row } from "../support/paperless/admin";
import { paperlessInTurn } from "../support/paperless/inTurn";
import { PAPERLESS_VERSIONS, type PaperlessServer } from "../support/paperless/server";
import { prodConfig, prodUsers } from "../support/prodConfig";
import { mailboxResources, ProviderDriver } from "./providerDriver";
import { failure } from "./support";

jest.setTimeout(300_000);

const config = prodConfig();
const mailbox = config.mailboxes[0]!;
const ANCA = "ancaelena98@gmail.com";
const credentials = newCredentials(config, () => randomBytes(18).toString("base64"));
const root = mkdtempSync(join(tmpdir(), "mail-fetch-"));
let mail: Mailserver;

beforeAll(async () => {
  mail = await deployedMailserver(root, config, credentials);
});
afterAll(async () => {
  await mail?.stop(0);
  rmSync(root, { recursive: true, force: true });
});

/** A listed sender's forwarded mail, in docs@'s INBOX. */
async function inInbox(subject: string): Promise<string> {
  const m = forwardedMail(ANCA, mailbox.address, subject);
  await mail.deliver({ mailFrom: "bounces@forwarder.test", rcptTo: [mailbox.address] }, m.text);
  expect(mail.locate(m.id)).toEqual([`${mailbox.address}:INBOX`]);
  return m.id;
}

/** Until paperless has moved the mail to Processed: it does so once its documents are filed. */
async function processed(messageId: string): Promise<void> {
  await waitFor(
    "paperless to move the mail to Processed",
    () => (mail.locate(messageId)[0]?.endsWith(":Processed") ? true : undefined),
    60_000,
  );
}

/** What a provider writes to stderr while `fn` runs (the engine shows it as the stack's diagnostics). */
async function stderrOf<T>(fn: () => Promise<T>): Promise<{ value: T | undefined; error: Error | undefined; lines: string[] }> {
  const lines: string[] = [];
  const spy = jest.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    return { value: await fn(), error: undefined, lines };
  } catch (e) {
    return { value: undefined, error: e as Error, lines };
  } finally {
    spy.mockRestore();
  }
}

const serverOf = paperlessInTurn({ users: prodUsers(), worker: true });

describe.each(PAPERLESS_VERSIONS)("paperless-ngx %s", (version) => {
  const tracked = version.startsWith("3.");
  let server: PaperlessServer;
  let proxy: FaultProxy;
  let api: Admin;
  let account: { id: number; name: string };
  const saved = process.env.PAPERLESS_API_TOKEN;

  beforeAll(async () => {
    server = await serverOf(version);
    proxy = await startFaultProxy(server.url);
    api = admin(server);
    process.env.PAPERLESS_API_TOKEN = server.token;
    // Dovecot on loopback, plain IMAP (the test instance has no certificate).
    const mailserver: MailserverSettings = { ...config.mailserver, imapHost: "127.0.0.1", imapPort: mail.imapPort, imapSecurity: "none" };
    await new ProviderDriver().up(
      mailboxResources(
        "docs",
        mailbox,
        mailserver,
        { url: proxy.url, fetchAfterChange: true },
        { password: credentials.get(mailbox.address)!.password },
      ),
    );
    const found = (await api.list("/api/mail_accounts/")).find((a) => a.name === mailbox.accountName)!;
    account = { id: found.id, name: found.name };
  });
  afterAll(async () => {
    if (saved === undefined) delete process.env.PAPERLESS_API_TOKEN;
    else process.env.PAPERLESS_API_TOKEN = saved;
    await proxy?.close();
    await server?.stop();
  });
  beforeEach(() => {
    forgetProcessMemory();
    proxy.reset();
  });

  const documents = async () =>
    (await api.list<Row & { title: string }>("/api/documents/")).map((d) => ({ title: d.title, owner: d.owner }));
  const filed = (title: string) => ({ title, owner: server.users.anca!.id });

  test(
    tracked
      ? "fetchAndWait: the fetch and the consumption it queued are done when it returns, confirmed by the mail_fetch task"
      : "fetchAndWait: the fetch is requested and the result says its end is not confirmed (2.x records no task); the mail is then filed",
    async () => {
      const id = await inInbox(`Statement ${version}`);
      const progress: string[] = [];
      const results = await fetchAndWait(new PaperlessClient(proxy.url, server.token), [account], {
        deadlineMs: 120_000,
        pollMs: 250,
        onProgress: (line) => progress.push(line),
      });
      expect(proxy.count("POST", `/api/mail_accounts/${account.id}/process/`)).toBe(1);
      if (tracked) {
        expect(results).toEqual([
          {
            account: mailbox.accountName,
            confirmed: true,
            failed: false,
            detail: expect.stringMatching(/^fetched \(mail_fetch task \d+\): 1 document\(s\) filed$/),
          },
        ]);
        // Already done when it returns: the document is there and the rule's action has moved the mail
        // (a rule deleted right after, as a moved sender's old rule is, no longer leaves it in INBOX).
        expect(await documents()).toContainEqual(filed(`Statement ${version}`));
        expect(mail.locate(id)).toEqual([`${mailbox.address}:Processed`]);
        expect(progress[0]).toBe(`${mailbox.accountName}: fetch requested`);
        expect(progress.at(-1)).toBe(`${mailbox.accountName}: ${results[0]!.detail}`);
        // One list request per look, whatever it found.
        expect(
          proxy.requests
            .filter((r) => r.method === "GET" && r.path.startsWith("/api/tasks/"))
            .every((r) => r.path.includes("task_type=mail_fetch&task_type=consume_file")),
        ).toBe(true);
      } else {
        const detail = `fetch requested; paperless-ngx ${version} records no task for a mail fetch (3.0 and later do), so its end is not confirmed`;
        expect(results).toEqual([{ account: mailbox.accountName, confirmed: false, failed: false, detail }]);
        expect(progress).toEqual([`${mailbox.accountName}: fetch requested`, `${mailbox.accountName}: ${detail}`]);
        // The request did start a real fetch: the worker files the mail.
        await waitFor(
          "the worker to file the mail",
          async () => ((await documents()).some((d) => d.title === `Statement ${version}`) ? true : undefined),
          120_000,
        );
        expect(await documents()).toContainEqual(filed(`Statement ${version}`));
        await processed(id);
      }
    },
  );

  test("the provider (pulumi up): create runs the fetch; a changed fingerprint or account list is a change, nothing else is", async () => {
    const provider = mailFetchProvider();
    const inputs: MailFetchInputs = { url: proxy.url, accounts: [mailbox.accountName], rulesFingerprint: "a".repeat(64) };
    expect((await provider.check!({}, inputs)).failures).toEqual([]);
    const id = await inInbox(`Payslip ${version}`);
    const run = await stderrOf(() => provider.create(inputs));
    expect(run.error).toBeUndefined();
    expect(run.value).toEqual({ id: "mail-fetch", outs: inputs });
    expect(run.lines[0]).toBe(`paperless mail fetch: ${mailbox.accountName}: fetch requested\n`);
    if (tracked) {
      expect(run.lines.at(-1)).toMatch(
        /^paperless mail fetch: docs@viktorbarzin\.me: fetched \(mail_fetch task \d+\): 1 document\(s\) filed\n$/,
      );
      expect(await documents()).toContainEqual(filed(`Payslip ${version}`));
      expect(mail.locate(id)).toEqual([`${mailbox.address}:Processed`]);
    } else {
      expect(run.lines.at(-1)).toMatch(/its end is not confirmed\n$/);
      await waitFor(
        "the worker to file the mail",
        async () => ((await documents()).some((d) => d.title === `Payslip ${version}`) ? true : undefined),
        120_000,
      );
    }
    await processed(id);
    expect((await provider.diff!("mail-fetch", inputs, { ...inputs })).changes).toBe(false);
    expect((await provider.diff!("mail-fetch", inputs, { ...inputs, rulesFingerprint: "b".repeat(64) })).changes).toBe(true);
    expect(
      (await provider.diff!("mail-fetch", inputs, { ...inputs, accounts: [mailbox.accountName, "receipts@viktorbarzin.me"] })).changes,
    ).toBe(true);
  });

  test("preview (check) on a paperless-ngx older than 2.14 fails naming the version, the request it lacks and the way out; nothing is asked", async () => {
    proxy.inject({ kind: "pass", answerHeaders: { "x-version": "2.13.5" } });
    const { failures } = await mailFetchProvider().check!(
      {},
      { url: proxy.url, accounts: [mailbox.accountName], rulesFingerprint: "a".repeat(64) },
    );
    expect(failures).toEqual([
      {
        property: "url",
        reason:
          `paperless mail fetch: paperless-ngx 2.13.5 at ${proxy.url} cannot be asked to fetch mail: ` +
          "POST /api/mail_accounts/{id}/process/ arrived in paperless-ngx 2.14.0; upgrade paperless-ngx, " +
          "or set `paperless.fetchAfterChange: false` in the stack config (paperless then fetches on its own schedule, every 10 minutes by default)",
      },
    ]);
    expect(proxy.writes()).toEqual([]);
  });

  test("an account that does not exist and a rejected token are named, the token never shown", async () => {
    const provider = mailFetchProvider();
    const inputs: MailFetchInputs = { url: proxy.url, accounts: ["nobody@viktorbarzin.me"], rulesFingerprint: "a".repeat(64) };
    expect((await failure(provider.create(inputs))).message).toBe(
      `paperless mail fetch: mail account "nobody@viktorbarzin.me" does not exist on ${proxy.url}`,
    );
    process.env.PAPERLESS_API_TOKEN = "0123456789abcdef-wrong";
    try {
      forgetProcessMemory();
      const e = await failure(provider.create({ ...inputs, accounts: [mailbox.accountName] }));
      expect(e.message).toMatch(
        /^paperless mail fetch: Invalid token\. \(GET \/api\/ui_settings\/ → 401\); the API token from PAPERLESS_API_TOKEN was rejected/,
      );
      expect(e.message).not.toContain("0123456789abcdef-wrong");
    } finally {
      process.env.PAPERLESS_API_TOKEN = server.token;
    }
    expect(proxy.writes()).toEqual([]);
  });

  // 3.x only: 2.x records no task, so there a fetch no worker takes looks as any other (unconfirmed, above).
  if (tracked)
    test("3.x, no worker running: up fails after the deadline naming the pending task and what to check; the rules stay; the fetch runs once a worker is back", async () => {
      await server.worker!.stop();
      const saved = process.env[FETCH_TIMEOUT_ENV];
      process.env[FETCH_TIMEOUT_ENV] = "3000";
      try {
        const id = await inInbox(`Late ${version}`);
        const run = await stderrOf(() =>
          mailFetchProvider().create({ url: proxy.url, accounts: [mailbox.accountName], rulesFingerprint: "c".repeat(64) }),
        );
        expect(run.error?.message).toMatch(
          new RegExp(
            "^paperless mail fetch: docs@viktorbarzin\\.me: mail_fetch task (\\d+) still pending after 3 s: " +
              "no worker took it; is paperless's Celery worker running\\? The rules are in place: the next `pulumi up` asks for the fetch again " +
              `\\(set ${FETCH_TIMEOUT_ENV} to wait longer than 3 s\\), or set \`paperless.fetchAfterChange: false\``,
          ),
        );
        expect(run.lines.join("")).toMatch(/pending: waiting for a paperless worker to take it/);
        expect(await api.list("/api/mail_rules/")).toHaveLength(mailbox.senders.length);
        await server.worker!.start();
        await waitFor(
          "the queued fetch to file the mail",
          async () => ((await documents()).some((d) => d.title === `Late ${version}`) ? true : undefined),
          120_000,
        );
        await processed(id);
      } finally {
        if (saved === undefined) delete process.env[FETCH_TIMEOUT_ENV];
        else process.env[FETCH_TIMEOUT_ENV] = saved;
        await server.worker!.start();
      }
    });
});
