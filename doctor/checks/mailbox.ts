// Each ingest mailbox as paperless sees it over IMAP: the login with the password in Vault, and
// the folders the rules read and move into. Mail the spam filter moved to Junk never reaches
// paperless, so a listed sender's mail there is a warning.
import type { Mailbox } from "../../core/types";
import { type Check, eachMailbox, passed, type Problem, problems } from "../check";
import type { DoctorContext } from "../context";

async function folders(ctx: DoctorContext, mailbox: Mailbox): Promise<Problem[]> {
  const p = problems("mailbox.folders");
  const snapshot = await ctx.imap(mailbox);
  const found: Problem[] = [];
  for (const folder of [mailbox.inboxFolder, mailbox.processedFolder]) {
    if (!snapshot.folders.some((f) => f.toLowerCase() === folder.toLowerCase())) {
      found.push(
        p.fail(
          `${mailbox.address}: folder ${folder} does not exist${
            folder === mailbox.processedFolder ? ": paperless's MOVE fails, every consumed mail stays in INBOX and is consumed again" : ""
          }`,
          folder === mailbox.processedFolder
            ? `create it: \`kubectl -n ${ctx.config.mailserver.namespace} exec deploy/${ctx.config.mailserver.deployment} -c ${ctx.config.mailserver.container} -- doveadm mailbox create -s -u ${mailbox.address} ${mailbox.processedFolder}\` (or with a mail client)`
            : "check the mailbox on the mailserver",
        ),
      );
    }
  }
  const listed = new Set(mailbox.senders.map((s) => s.address));
  const spam = snapshot.junk?.messages.filter((m) => listed.has(m.from)) ?? [];
  if (spam.length) {
    const which = spam
      .slice(0, 3)
      .map((m) => `"${m.subject}" from ${m.from} (${m.arrived.toISOString()})`)
      .join(", ");
    found.push(
      p.warn(
        `${mailbox.address}: ${spam.length} mail(s) from listed senders in ${snapshot.junk!.folder}, where paperless never looks: ${which}`,
        `move them to INBOX; the mailserver's spam filter classified them (docker-mailserver's MOVE_SPAM_TO_JUNK)`,
      ),
    );
  }
  return found;
}

export const mailboxChecks: Check<DoctorContext>[] = [
  {
    id: "mailbox.login",
    group: "mailbox",
    description: "an IMAP login with the mailbox password in Vault works",
    async run(ctx) {
      await Promise.all(ctx.config.mailboxes.map((m) => ctx.imap(m)));
      const at = ctx.imapEndpoint();
      return passed(`${at.host}:${at.port}`);
    },
  },
  {
    id: "mailbox.folders",
    group: "mailbox",
    description: "INBOX and the processed folder exist; no listed sender's mail sits in Junk",
    needs: ["mailbox.login"],
    run: eachMailbox(folders),
  },
];
