// Mail waiting in INBOX longer than two fetch periods, each explained by joining it with paperless's
// processed-mail record (2.19+): none means no rule took it (and why: a sender not on the list, which
// also means the sieve did not run; its rule off; maximum_age; the processed folder missing; no
// fetch); PROCESSED_WO_CONSUMPTION means nothing in it was consumable (which part, which setting);
// FAILED quotes paperless's error. Two list requests, whatever the number of mails and senders.
import { editDistance } from "../../core/closestName";
import type { Mailbox } from "../../core/types";
import { ago, type Check, eachMailbox, type Problem, problems } from "../check";
import type { DoctorContext, WireProcessedMail } from "../context";
import type { MessagePart, WaitingMessage } from "../imapSnapshot";
import { quoteError } from "./paperless";

const p = problems("paperless.backlog");

const describe = (m: WaitingMessage, now: Date) =>
  `"${m.subject}" from ${m.from || "(no From)"} (INBOX uid ${m.uid}, waiting ${ago(now.getTime() - m.arrived.getTime())})`;
const part = (x: MessagePart) => `${x.type}${x.filename ? ` "${x.filename}"` : ""} (${x.disposition || "no disposition"})`;

/** Why paperless found nothing to consume in a mail its rule took (attachments only: docs/paperless-api.md, Enums). */
function skipped(m: WaitingMessage): string {
  if (!m.parts.length) return "it has no attachment at all";
  const reasons = m.parts.map((x) => {
    if (x.disposition !== "attachment")
      return `${part(x)} is not an attachment: the rule takes attachments only (attachment_type 1) and skips inline parts`;
    if (x.type === "message/rfc822") return `${part(x)} is an attached mail, which consumption_scope 1 (attachments only) does not consume`;
    if (x.type === "application/octet-stream")
      return `${part(x)} is sent as application/octet-stream; paperless sniffs the content and found no type it consumes`;
    return `${part(x)} is of a type paperless does not consume`;
  });
  return reasons.join("; ");
}

async function backlog(ctx: DoctorContext, mailbox: Mailbox): Promise<Problem[]> {
  const [snapshot, account, rules, failed, skippedRows] = await Promise.all([
    ctx.imap(mailbox),
    ctx.account(mailbox),
    ctx.rules(),
    ctx.processedMail("FAILED"),
    ctx.processedMail("PROCESSED_WO_CONSUMPTION"),
  ]);
  const overdue = snapshot.inbox.filter((m) => ctx.now.getTime() - m.arrived.getTime() > ctx.overdueMs);
  if (!overdue.length) return [];
  const listed = new Map(mailbox.senders.map((s) => [s.address, s]));
  const onAccount = rules.filter((r) => account && r.account === account.id);
  const ruleIds = new Set(onAccount.map((r) => r.id));
  const rows = new Map<string, WireProcessedMail>();
  for (const answer of [failed, skippedRows]) {
    if (answer.ok)
      for (const row of answer.value) if (ruleIds.has(row.rule) && row.folder === mailbox.inboxFolder) rows.set(String(row.uid), row);
  }
  const noRecords = !failed.ok || !skippedRows.ok;
  const found: Problem[] = [];
  for (const m of overdue) {
    const what = `${mailbox.address}: ${describe(m, ctx.now)}`;
    const sender = listed.get(m.from);
    if (!sender) {
      const closest = [...listed.keys()].sort((a, b) => editDistance(m.from, a) - editDistance(m.from, b))[0];
      found.push(
        p.fail(
          `${what}: its From is not on the list (closest listed: ${closest}): the sieve did not run, it discards such mail`,
          "see mailserver.sieve-installed and mailserver.sieve-compiles; if the sender should be filed, list that exact From address, else delete the mail",
        ),
      );
      continue;
    }
    const row = rows.get(String(m.uid));
    if (row?.status === "FAILED") {
      found.push(
        p.fail(
          `${what}: paperless failed on it: ${quoteError(ctx, row.error)}`,
          "fix the cause, then delete its entry under Mail → Processed mail in paperless so the next fetch tries again",
        ),
      );
      continue;
    }
    if (row?.status === "PROCESSED_WO_CONSUMPTION") {
      found.push(
        p.warn(
          `${what}: paperless took it but consumed nothing: ${skipped(m)}`,
          "ask the sender to attach the file (not inline) and send it again; move this mail out of INBOX",
        ),
      );
      continue;
    }
    if (noRecords) {
      found.push(
        p.notChecked(
          `${what}: this paperless-ngx does not tell what happened to it (/api/processed_mail/ arrived in 2.19, and needs view_processedmail)`,
          "upgrade paperless-ngx or use the token the program deploys with (README.md#doctor-rights)",
        ),
      );
      continue;
    }
    const rule = onAccount.find((r) => r.enabled && (r.filter_from ?? "").toLowerCase() === sender.address);
    const ageDays = (ctx.now.getTime() - m.arrived.getTime()) / 86_400_000;
    const why = !rule
      ? `no enabled rule of account ${mailbox.accountName} takes mail from ${sender.address} (see paperless.rules)`
      : rule.maximum_age > 0 && ageDays > rule.maximum_age
        ? `it is older than the rule's maximum_age (${rule.maximum_age} days), so paperless no longer looks at it`
        : !snapshot.folders.some((f) => f.toLowerCase() === mailbox.processedFolder.toLowerCase())
          ? `the rule's MOVE target ${mailbox.processedFolder} does not exist, so the rule fails before it looks (see mailbox.folders)`
          : `no rule took it: no fetch ran since it arrived, or paperless cannot log in (see paperless.mail-fetch, paperless.account-test), or another rule sorts first (see paperless.rules)`;
    found.push(p.fail(`${what}: ${why}`, "fix what the named check reports; the next fetch takes the mail"));
  }
  return found;
}

export const backlogCheck: Check<DoctorContext> = {
  id: "paperless.backlog",
  group: "paperless",
  description: "no mail waits in INBOX longer than two fetch periods",
  needs: ["mailbox.login", "paperless.api"],
  run: eachMailbox(backlog),
};
