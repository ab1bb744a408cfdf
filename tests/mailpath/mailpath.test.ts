// The whole mail path with the real daemons, fed only with what the program generates for the
// production config: the account line, the self-alias line (each in the program's block of a file
// shared with another owner's lines), the sieve, and the in-pod folder/sieve-removal commands.
import { execFile } from "child_process";
import { randomBytes } from "crypto";
import { existsSync } from "fs";
import { join } from "path";
import { promisify } from "util";
import { accountLine, newSalt } from "../../core/accountLine";
import { selfAliasLine } from "../../core/aliasLine";
import { processedFolderCommand, sieveHome, sieveRemovalCommand } from "../../core/mailboxCommands";
import { writeOwnedLines } from "../../core/ownedLines";
import { renderSieve, sieveFileName } from "../../core/sieve";
import type { Mailbox } from "../../core/types";
import { prodConfig } from "../support/prodConfig";
import { MailServer, type DmsConfig } from "./harness";
import { ImapClient } from "./imap";

const run = promisify(execFile);
const config = prodConfig();

/** The in-pod shell text, run the way `kubectl exec … sh -c` runs it. */
async function runInPod(command: string): Promise<void> {
  await run("sh", ["-c", command]);
}

describe.each(config.mailboxes.map((m) => [m.address, m] as const))("mail to %s", (_address, mailbox: Mailbox) => {
  // What Vault would hold; random per run and never printed.
  const password = randomBytes(18).toString("base64");
  const spam = `spam@${mailbox.domain}`;
  const first = mailbox.senders[0]!; // parseConfig guarantees at least one
  const [firstLocal, firstDomain] = first.address.split("@") as [string, string];

  const salt = newSalt(); // kept in state by the program, so one per run here

  /** The files as docker-mailserver would read them after `pulumi up`. */
  async function dmsFiles(withSelfAlias: boolean): Promise<DmsConfig> {
    // Another owner's lines, as in production: its own account (hashed by `doveadm pw`, like DMS's
    // `setup email add`) and the domain catch-all the self-alias has to beat.
    const { stdout: spamHash } = await run("doveadm", ["pw", "-s", "SHA512-CRYPT", "-p", randomBytes(12).toString("hex")]);
    const foreignAccounts = `# accounts of the mailserver stack\n${spam}|${spamHash.trim()}\n`;
    const foreignVirtual = `# aliases of the mailserver stack\n@${mailbox.domain} ${spam}\n`;
    const owner = mailbox.address;
    return {
      accounts: writeOwnedLines(foreignAccounts, owner, [accountLine(mailbox.address, password, salt)]),
      virtual: writeOwnedLines(foreignVirtual, owner, withSelfAlias ? [selfAliasLine(mailbox.address)] : []),
      sieves: { [sieveFileName(mailbox.address)]: renderSieve(mailbox) },
    };
  }

  let sequence = 0;
  /** A forwarded mail with the given sender headers; returns its Message-ID. */
  function mail(senderHeaders: readonly string[]): { id: string; text: string } {
    const id = `<${++sequence}.${process.pid}.${Date.now()}@mailpath.test>`;
    const text = [...senderHeaders, `To: ${mailbox.address}`, "Subject: Bank statement",
      "Date: Tue, 24 Nov 2026 10:00:00 +0000", `Message-ID: ${id}`, "MIME-Version: 1.0",
      "Content-Type: text/plain", "", "See attachment.", ""].join("\n");
    return { id, text };
  }

  describe("with the program's account, self-alias and sieve", () => {
    let server: MailServer;
    /** Message-IDs that reached the INBOX: the removal test checks they survive it. */
    const stored: string[] = [];

    beforeAll(async () => {
      server = await MailServer.start(await dmsFiles(true));
    });
    afterAll(async () => {
      await server?.stop();
    });

    /** Delivers over SMTP; asserts Postfix handed it to the mailbox itself (not the catch-all). */
    async function deliver(senderHeaders: readonly string[], mailFrom = "bounces@forwarder.test"): Promise<string> {
      const { id, text } = mail(senderHeaders);
      const delivery = await server.deliver({ mailFrom, rcptTo: [mailbox.address] }, text);
      expect(delivery.recipients).toEqual([expect.objectContaining({ to: mailbox.address, status: "sent" })]);
      expect(server.sieveProblems()).toEqual([]);
      return id;
    }

    test.each(mailbox.senders.flatMap((s) => [
      [`From: ${s.address}`],
      [`From: "${s.label}" <${s.address}>`],
      [`From: ${s.address.toUpperCase()}`],
    ]))("%s lands in the INBOX", async (from) => {
      const id = await deliver([from]);
      expect(server.locate(id)).toEqual([`${mailbox.address}:INBOX`]);
      stored.push(id);
    });

    const stranger = "mallory@evil.test";
    test.each([
      ["an unknown sender", [`From: ${stranger}`]],
      ["a listed address as display name only", [`From: "${first.address}" <${stranger}>`]],
      ["a listed address in a comment only", [`From: ${stranger} (${first.address})`]],
      ["a listed address in Reply-To only", [`From: ${stranger}`, `Reply-To: ${first.address}`]],
      ["a listed address in Sender only", [`From: ${stranger}`, `Sender: ${first.address}`]],
      ["a listed address in Resent-From only", [`From: ${stranger}`, `Resent-From: ${first.address}`]],
      ["no From, a listed Reply-To", [`Reply-To: ${first.address}`]],
      ["a look-alike domain (suffix)", [`From: ${first.address}.evil.test`]],
      ["a look-alike domain (prefix)", [`From: ${firstLocal}@evil-${firstDomain}`]],
      ["a subdomain of the listed domain", [`From: ${firstLocal}@mail.${firstDomain}`]],
      ["a longer local part", [`From: x${first.address}`]],
      ["two From addresses, listed one last", [`From: ${stranger}, ${first.address}`]],
      ["two From addresses, listed one first", [`From: ${first.address}, ${stranger}`]],
      ["two From headers", [`From: ${first.address}`, `From: ${stranger}`]],
    ])("%s is discarded at delivery and reaches no mailbox", async (_case, headers) => {
      const id = await deliver(headers);
      expect(await server.dovecotVerdict(id)).toMatch(/discard action/);
      expect(server.locate(id)).toEqual([]);
    });

    test("a listed envelope sender does not help a stranger's From", async () => {
      const id = await deliver([`From: ${stranger}`], first.address);
      expect(await server.dovecotVerdict(id)).toMatch(/discard action/);
      expect(server.locate(id)).toEqual([]);
    });

    test(`the catch-all is live: other addresses of ${mailbox.domain} land in ${spam}`, async () => {
      // Without this, "reaches no mailbox" above could pass with a dead catch-all.
      const { id, text } = mail([`From: ${first.address}`]);
      const delivery = await server.deliver({ mailFrom: first.address, rcptTo: [`nobody@${mailbox.domain}`] }, text);
      expect(delivery.recipients).toEqual([expect.objectContaining({ to: spam, status: "sent" })]);
      expect(server.locate(id)).toEqual([`${spam}:INBOX`]);
    });

    test("IMAP LOGIN with the mailbox password finds the mail; a wrong password is refused", async () => {
      const id = await deliver([`From: ${first.address}`]);
      stored.push(id);
      const imap = await ImapClient.open(server.imapPort);
      try {
        expect((await imap.login(mailbox.address, `${password}x`)).status).toBe("NO");
        expect((await imap.login(mailbox.address, password)).status).toBe("OK");
        expect((await imap.command(`SELECT ${mailbox.inboxFolder}`)).status).toBe("OK");
        expect(await imap.searchHeader("Message-ID", id)).toHaveLength(1);
      } finally {
        await imap.close();
      }
    });

    test(`processedFolderCommand makes "${mailbox.processedFolder}" selectable over IMAP`, async () => {
      const selectProcessed = async () => {
        const imap = await ImapClient.open(server.imapPort);
        try {
          expect((await imap.login(mailbox.address, password)).status).toBe("OK");
          return (await imap.command(`SELECT "${mailbox.processedFolder}"`)).status;
        } finally {
          await imap.close();
        }
      };
      expect(await selectProcessed()).toBe("NO"); // paperless's MOVE would fail here
      await runInPod(processedFolderCommand(mailbox, server.doveadm));
      await runInPod(processedFolderCommand(mailbox, server.doveadm)); // again, as on every `up`
      expect(await selectProcessed()).toBe("OK");
    });

    test("after sieveRemovalCommand the filter is gone and the stored mail is still there", async () => {
      expect(stored.length).toBeGreaterThan(0);
      const mailserver = { ...config.mailserver, mailRoot: server.mailRoot };
      const home = sieveHome(mailbox, mailserver);
      // Dovecot compiled the copy at the first delivery; both must go.
      expect([existsSync(join(home, ".dovecot.sieve")), existsSync(join(home, ".dovecot.svbin"))]).toEqual([true, true]);

      await runInPod(sieveRemovalCommand(mailbox, mailserver));

      expect([existsSync(join(home, ".dovecot.sieve")), existsSync(join(home, ".dovecot.svbin"))]).toEqual([false, false]);
      const id = await deliver([`From: ${stranger}`]);
      expect(server.locate(id)).toEqual([`${mailbox.address}:INBOX`]);
      for (const kept of stored) expect(server.locate(kept)).toEqual([`${mailbox.address}:INBOX`]);
    });
  });

  describe("without the program's self-alias line", () => {
    let server: MailServer;
    beforeAll(async () => {
      server = await MailServer.start(await dmsFiles(false));
    });
    afterAll(async () => {
      await server?.stop();
    });

    test.each(mailbox.senders.map((s) => [s.address]))(`mail from %s falls into the catch-all (${spam})`, async (address) => {
      const { id, text } = mail([`From: ${address}`]);
      const delivery = await server.deliver({ mailFrom: address, rcptTo: [mailbox.address] }, text);
      expect(delivery.recipients).toEqual([expect.objectContaining({ to: spam, origTo: mailbox.address, status: "sent" })]);
      expect(server.locate(id)).toEqual([`${spam}:INBOX`]);
    });
  });
});
