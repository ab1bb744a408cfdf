// The mail path on docker-mailserver's own start-up scripts and configuration (both releases),
// fed only with what the program generates: the account and self-alias lines in its blocks of the
// shared files beside another owner's lines, one sieve per mailbox mounted where the Deployment
// patch mounts it, and the in-pod commands run the way `kubectl exec` runs them. SMTP in, IMAP out.
import { execFileSync } from "child_process";
import { createHash, randomBytes } from "crypto";
import { mkdirSync, mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { processedFolderCommand, sieveHome, sieveInstalledCheck, sieveRemovalCommand } from "../../core/mailboxCommands";
import { renderSieve } from "../../core/sieve";
import { readStackFile } from "../../stack/stackConfig";
import type { Mailbox } from "../../core/types";
import { ImapClient } from "../support/mailserver/imap";
import { DMS_VERSIONS, startMailserver, type Mailserver } from "../support/mailserver/mailserver";
import { newCredentials, podFiles, type ForeignLines } from "../support/mailserver/programFiles";

jest.setTimeout(240_000);

const config = readStackFile(join(__dirname, "..", "fixtures", "stacks", "Pulumi.two-mailboxes.yaml")).config;
const [docs, receipts] = config.mailboxes as [Mailbox, Mailbox];
const domain = docs.domain;
const spam = `spam@${domain}`;
const stranger = "mallory@evil.test";
// The receiving server's name: DMS's OVERRIDE_HOSTNAME, and receipts@'s trustedAuthservId.
const hostname = receipts.trustedAuthservId!;

describe.each(DMS_VERSIONS)("docker-mailserver %s", (version) => {
  // What Vault would hold; random per run and never printed.
  const credentials = newCredentials(config, () => randomBytes(18).toString("base64"));
  const spamPassword = randomBytes(12).toString("hex");
  // Another owner's lines, as in production: an account hashed by `doveadm pw` (like DMS's
  // `setup email add`) and the domain catch-all the self-alias has to beat.
  const foreign: ForeignLines = {
    accounts: `# accounts of the mailserver stack\n${spam}|${execFileSync("doveadm", ["pw", "-s", "SHA512-CRYPT", "-p", spamPassword], { encoding: "utf8" }).trim()}\n`,
    virtual: `# aliases of the mailserver stack\n@${domain} ${spam}\n`,
  };
  const root = mkdtempSync(join(tmpdir(), "mailpath-"));
  const mailDir = join(root, "mail");
  mkdirSync(mailDir);
  const env = { OVERRIDE_HOSTNAME: hostname };
  const up = podFiles(root, config, foreign, credentials, true);
  let server: Mailserver;

  let sequence = 0;
  /** A forwarded mail with these header lines; returns its Message-ID. */
  function mail(to: string, headers: readonly string[]): { id: string; text: string } {
    const id = `<${++sequence}.${version}.${process.pid}.${Date.now()}@mailpath.test>`;
    const text = [
      ...headers,
      `To: ${to}`,
      "Subject: Bank statement",
      "Date: Tue, 24 Nov 2026 10:00:00 +0000",
      `Message-ID: ${id}`,
      "MIME-Version: 1.0",
      "Content-Type: text/plain",
      "",
      "See attachment.",
      "",
    ].join("\n");
    return { id, text };
  }

  /** Delivers to `to` over SMTP; asserts Postfix handed it to that mailbox itself, not the catch-all. */
  async function deliver(to: string, headers: readonly string[], mailFrom = "bounces@forwarder.test"): Promise<string> {
    const { id, text } = mail(to, headers);
    const delivery = await server.deliver({ mailFrom, rcptTo: [to] }, text);
    expect(delivery.recipients).toEqual([expect.objectContaining({ to, status: "sent" })]);
    expect(server.sieveProblems()).toEqual([]);
    return id;
  }

  async function imapLogin(user: string, password: string): Promise<string> {
    const imap = await ImapClient.open(server.imapPort);
    try {
      return (await imap.login(user, password)).status;
    } finally {
      await imap.close();
    }
  }

  beforeAll(async () => {
    server = await startMailserver({ version, configDir: up.configDir, mounts: up.mounts, mailDir, env, instanceDir: join(root, "pod-1") });
  });
  afterAll(async () => {
    await server?.stop(0);
    rmSync(root, { recursive: true, force: true });
  });

  /** Message-IDs that reached an INBOX: the rollback and destroy tests check they survive. */
  const stored: { id: string; where: string }[] = [];

  test("starts on the program's files: no panic, every account and alias of both owners in place", async () => {
    expect(server.console()).not.toMatch(/ERROR/);
    const userdb = (await server.exec("cut -d: -f1 /etc/dovecot/userdb")).stdout.split("\n");
    expect(userdb).toEqual(expect.arrayContaining([spam, docs.address, receipts.address]));
    // DMS copies the virtual file as it is: the foreign catch-all and our self-aliases.
    expect((await server.exec("cat /etc/postfix/virtual")).stdout).toBe(up.virtual);
    // Its quota set-up (ENABLE_QUOTAS=1, the default) covers our accounts.
    expect((await server.exec(`doveadm quota get -u ${docs.address}`)).stdout).toMatch(/User quota\s+STORAGE/);
  });

  test.each(config.mailboxes.map((m) => [m.address]))(
    "%s: the account line logs in over IMAP; a wrong password does not",
    async (address) => {
      const { password } = credentials.get(address)!;
      expect(await imapLogin(address, `${password}x`)).toBe("NO");
      expect(await imapLogin(address, password)).toBe("OK");
    },
  );

  test("the other owner's account still logs in", async () => {
    expect(await imapLogin(spam, spamPassword)).toBe("OK");
  });

  test.each(config.mailboxes.map((m) => [m.address, m] as const))(
    "%s: DMS installed the sieve in the mailbox home",
    async (_a, mailbox) => {
      const installed = await server.exec(`cat '${sieveHome(mailbox, config.mailserver)}/.dovecot.sieve'`);
      expect(installed).toEqual(expect.objectContaining({ code: 0, stdout: renderSieve(mailbox) }));
    },
  );

  describe.each(config.mailboxes.map((m) => [m.address, m] as const))("mail to %s", (_address, mailbox) => {
    const plain = mailbox.senders.filter((s) => !s.requireAuthentication);
    const first = plain[0]!;
    const [firstLocal, firstDomain] = first.address.split("@") as [string, string];

    test.each(plain.flatMap((s) => [[`From: ${s.address}`], [`From: "${s.label}" <${s.address}>`], [`From: ${s.address.toUpperCase()}`]]))(
      "%s lands in the INBOX, not in the catch-all",
      async (from) => {
        const id = await deliver(mailbox.address, [from]);
        expect(server.locate(id)).toEqual([`${mailbox.address}:INBOX`]);
        stored.push({ id, where: `${mailbox.address}:INBOX` });
      },
    );

    test.each([
      ["an unknown sender", [`From: ${stranger}`]],
      ["a listed address as display name only", [`From: "${first.address}" <${stranger}>`]],
      ["a listed address in Reply-To only", [`From: ${stranger}`, `Reply-To: ${first.address}`]],
      ["a listed address in Sender only", [`From: ${stranger}`, `Sender: ${first.address}`]],
      ["no From, a listed Reply-To", [`Reply-To: ${first.address}`]],
      ["a look-alike domain", [`From: ${first.address}.evil.test`]],
      ["a subdomain of the listed domain", [`From: ${firstLocal}@mail.${firstDomain}`]],
      ["two From addresses, one listed", [`From: ${stranger}, ${first.address}`]],
      ["two From headers", [`From: ${first.address}`, `From: ${stranger}`]],
    ])("%s is discarded at delivery and reaches no mailbox", async (_case, headers) => {
      const id = await deliver(mailbox.address, headers, first.address);
      expect(await server.verdict(id)).toMatch(/discard action/);
      expect(server.locate(id)).toEqual([]);
    });
  });

  describe(`requireAuthentication (${receipts.address}, trusted authserv-id ${hostname})`, () => {
    const strict = receipts.senders.find((s) => s.requireAuthentication)!;
    const from = `From: ${strict.address}`;
    const d = strict.address.split("@")[1]!;
    test.each([
      ["the topmost verdict passes", [`Authentication-Results: ${hostname}; dkim=pass header.d=${d}`, from], "keep"],
      [
        "the topmost verdict is folded over lines",
        [`Authentication-Results: ${hostname};\n\tspf=pass smtp.mailfrom=${d};\n\tdmarc=pass (p=reject) header.from=${d}`, from],
        "keep",
      ],
      ["no verdict", [from], "discard"],
      [
        "the topmost verdict fails, a forged lower one passes",
        [
          `Authentication-Results: ${hostname}; dkim=fail header.d=${d}`,
          `Authentication-Results: ${hostname}; dkim=pass header.d=${d}`,
          from,
        ],
        "discard",
      ],
      ["the topmost verdict is from another server", [`Authentication-Results: mx.evil.test; dkim=pass header.d=${d}`, from], "discard"],
    ])("%s -> %s", async (_case, headers, outcome) => {
      const id = await deliver(receipts.address, headers);
      if (outcome === "keep") {
        expect(server.locate(id)).toEqual([`${receipts.address}:INBOX`]);
      } else {
        expect(await server.verdict(id)).toMatch(/discard action/);
        expect(server.locate(id)).toEqual([]);
      }
    });
  });

  test(`the other owner's catch-all is live: any other address of ${domain} lands in ${spam}`, async () => {
    // Without this, "reaches no mailbox" above could pass with a dead catch-all.
    const { id, text } = mail(`nobody@${domain}`, [`From: ${docs.senders[0]!.address}`]);
    const delivery = await server.deliver({ mailFrom: "bounces@forwarder.test", rcptTo: [`nobody@${domain}`] }, text);
    expect(delivery.recipients).toEqual([expect.objectContaining({ to: spam, origTo: `nobody@${domain}`, status: "sent" })]);
    expect(server.locate(id)).toEqual([`${spam}:INBOX`]);
  });

  test.each(config.mailboxes.map((m) => [m.address, m] as const))(
    "%s: the ready step, run as kubectl exec runs it, waits for the rendered sieve and makes the Processed folder selectable",
    async (_a, mailbox) => {
      const { password } = credentials.get(mailbox.address)!;
      const select = async () => {
        const imap = await ImapClient.open(server.imapPort);
        try {
          expect((await imap.login(mailbox.address, password)).status).toBe("OK");
          return (await imap.command(`SELECT "${mailbox.processedFolder}"`)).status;
        } finally {
          await imap.close();
        }
      };
      // What components/sieveRollout.ts runs in the pod after each rollout.
      const readyStep = (sieve: string) =>
        `${sieveInstalledCheck(mailbox, config.mailserver, createHash("sha256").update(sieve).digest("hex"))}` +
        ` && ${processedFolderCommand(mailbox)}`;
      expect(await select()).toBe("NO"); // paperless's MOVE would fail here
      // A pod still running an older allowlist: the step fails and creates nothing.
      expect((await server.execArgv(["sh", "-c", readyStep(`${renderSieve(mailbox)}# older\n`)])).code).not.toBe(0);
      expect(await select()).toBe("NO");
      for (let i = 0; i < 2; i++) expect((await server.execArgv(["sh", "-c", readyStep(renderSieve(mailbox))])).code).toBe(0);
      expect(await select()).toBe("OK");
    },
  );

  test("processedFolderCommand fails for an address docker-mailserver has no account for", async () => {
    const unknown = { ...docs, address: `nobody@${domain}` };
    expect((await server.execArgv(["sh", "-c", processedFolderCommand(unknown)])).code).not.toBe(0);
  });

  test(`rollback: sieveRemovalCommand removes DMS's copy of ${docs.address}'s sieve; new mail flows unfiltered, stored mail stays`, async () => {
    expect(stored.length).toBeGreaterThan(0);
    const home = sieveHome(docs, config.mailserver);
    const files = async () => (await server.exec(`ls -a '${home}'`)).stdout.split("\n").filter((f) => f.startsWith(".dovecot."));
    // Dovecot compiled the copy at the first delivery; both must go.
    expect(await files()).toEqual([".dovecot.sieve", ".dovecot.svbin"]);

    expect((await server.execArgv(["sh", "-c", sieveRemovalCommand(docs, config.mailserver)])).code).toBe(0);

    expect(await files()).toEqual([]);
    const id = await deliver(docs.address, [`From: ${stranger}`]);
    expect(server.locate(id)).toEqual([`${docs.address}:INBOX`]);
    for (const kept of stored) expect(server.locate(kept.id)).toEqual([kept.where]);
    // receipts@ keeps its filter.
    const blocked = await deliver(receipts.address, [`From: ${stranger}`]);
    expect(await server.verdict(blocked)).toMatch(/discard action/);
  });

  test("after destroy the pod restarts on the foreign lines alone: DMS starts, the mailboxes fall to the catch-all, stored mail stays", async () => {
    await server.stop(0);
    const down = podFiles(root, config, foreign, credentials, false);
    // `destroy` removed exactly what `up` added.
    expect([down.accounts, down.virtual]).toEqual([foreign.accounts, foreign.virtual]);
    server = await startMailserver({
      version,
      configDir: down.configDir,
      mounts: down.mounts,
      mailDir,
      env,
      instanceDir: join(root, "pod-2"),
    });
    expect(server.console()).not.toMatch(/ERROR/);
    for (const m of config.mailboxes) {
      const { text } = mail(m.address, [`From: ${m.senders[0]!.address}`]);
      const delivery = await server.deliver({ mailFrom: "bounces@forwarder.test", rcptTo: [m.address] }, text);
      expect(delivery.recipients).toEqual([expect.objectContaining({ to: spam, origTo: m.address, status: "sent" })]);
    }
    for (const kept of stored) expect(server.locate(kept.id)).toEqual([kept.where]);
  });
});
