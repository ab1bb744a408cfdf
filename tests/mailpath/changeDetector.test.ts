// docker-mailserver's change detector (check-for-changes.sh) on a writable config volume: it re-runs
// _create_accounts -- and with it the alias lookup -- on every edit of the two shared files, in a
// running server. ConfigMap subPath mounts never change in a running pod, so there only a restart
// applies an edit; this is the deployment where the detector reads what the program writes.
import { execFileSync } from "child_process";
import { randomBytes } from "crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { accountLine } from "../../core/accountLine";
import { newSalt } from "../support/mailserver/accountSalt";
import { selfAliasLine } from "../../core/aliasLine";
import { writeOwnedLines } from "../../core/ownedLines";
import { readStackFile } from "../../stack/stackConfig";
import type { Mailbox } from "../../core/types";
import { ImapClient } from "../support/mailserver/imap";
import { DMS_VERSIONS, startMailserver, waitFor, type Mailserver } from "../support/mailserver/mailserver";

jest.setTimeout(180_000);

const config = readStackFile(join(__dirname, "..", "fixtures", "stacks", "Pulumi.two-mailboxes.yaml")).config;
const [docs, receipts] = config.mailboxes as [Mailbox, Mailbox];
const spam = `spam@${docs.domain}`;

describe.each(DMS_VERSIONS)("docker-mailserver %s change detector", (version) => {
  const root = mkdtempSync(join(tmpdir(), "dms-detector-"));
  const volume = join(root, "config");
  const mailDir = join(root, "mail");
  const passwords = new Map(config.mailboxes.map((m) => [m.address, randomBytes(18).toString("base64")]));
  const salt = newSalt();
  const foreignAccounts = `${spam}|${execFileSync("doveadm", ["pw", "-s", "SHA512-CRYPT", "-p", randomBytes(12).toString("hex")], { encoding: "utf8" }).trim()}\n`;
  const foreignVirtual = `@${docs.domain} ${spam}\n`;
  let server: Mailserver;

  /** The shared files with the program's blocks for these mailboxes, written in place. */
  function write(mailboxes: readonly Mailbox[], accountsPrefix = ""): void {
    let accounts = accountsPrefix + foreignAccounts;
    let virtual = foreignVirtual;
    for (const m of mailboxes) {
      accounts = writeOwnedLines(accounts, m.address, [accountLine(m.address, passwords.get(m.address)!, salt)]);
      virtual = writeOwnedLines(virtual, m.address, [selfAliasLine(m.address)]);
    }
    writeFileSync(join(volume, "postfix-accounts.cf"), accounts);
    writeFileSync(join(volume, "postfix-virtual.cf"), virtual);
  }

  /** LOGIN's status; "closed" when the connection dropped (Dovecot reloading after a change). */
  async function login(m: Mailbox): Promise<string> {
    try {
      const imap = await ImapClient.open(server.imapPort);
      try {
        return (await imap.login(m.address, passwords.get(m.address)!)).status;
      } finally {
        await imap.close().catch(() => undefined);
      }
    } catch {
      return "closed";
    }
  }

  const supervisorLog = (name: string) => {
    try {
      return readFileSync(join(server.instanceDir, "log", "supervisor", `${name}.log`), "utf8");
    } catch {
      return "";
    }
  };
  const detectorLog = () => supervisorLog("changedetector");

  beforeAll(async () => {
    mkdirSync(volume);
    mkdirSync(mailDir);
    write([docs]);
    server = await startMailserver({ version, configVolume: volume, mailDir, instanceDir: join(root, "pod") });
  });
  afterAll(async () => {
    await server?.stop(0);
    rmSync(root, { recursive: true, force: true });
  });

  test("applies the program's block for a second mailbox without a restart", async () => {
    expect(await login(receipts)).toBe("NO");
    write([docs, receipts]);
    await waitFor("the change detector to create receipts@", async () => ((await login(receipts)) === "OK" ? true : undefined), 60_000);
    expect(await login(docs)).toBe("OK");
    expect(detectorLog()).not.toMatch(/ERROR/);
  });

  test("stops the running server when a comment names an account's address: the alias lookup's panic", async () => {
    write([docs, receipts], `# ${docs.address}: its block is below\n`);
    // DMS's _shutdown sends SIGTERM to PID 1 (dumb-init -> supervisord): the whole container stops.
    await waitFor(
      "supervisord to be told to exit",
      () => (/received SIGTERM indicating exit request/.test(supervisorLog("supervisord")) ? true : undefined),
      60_000,
    );
    expect(detectorLog()).toContain("alias configuration | postfix-accounts.cf appears to be misconfigured, please verify.");
  });
});
