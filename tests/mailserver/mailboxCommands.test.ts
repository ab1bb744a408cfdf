import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { processedFolderCommand, sieveRemovalCommand } from "../../core/mailboxCommands";
import { prodConfig } from "../support/prodConfig";

const config = prodConfig();
const mailbox = config.mailboxes[0]!;

describe("sieveRemovalCommand", () => {
  it("removes exactly the installed sieve and its compiled form under mailRoot, never the mail", () => {
    const root = mkdtempSync(join(tmpdir(), "mailroot-"));
    const home = join(root, "viktorbarzin.me", "docs", "home");
    const maildir = join(root, "viktorbarzin.me", "docs", "cur");
    mkdirSync(home, { recursive: true });
    mkdirSync(maildir, { recursive: true });
    for (const f of [".dovecot.sieve", ".dovecot.svbin", ".dovecot.lda-dupes", "sieve-user.sieve"]) writeFileSync(join(home, f), "x");
    writeFileSync(join(maildir, "1700000000.M1.host:2,S"), "a mail");
    const command = sieveRemovalCommand(mailbox, { ...config.mailserver, mailRoot: root + "/" });
    execFileSync("sh", ["-c", command]);
    expect(readdirSync(home).sort()).toEqual([".dovecot.lda-dupes", "sieve-user.sieve"]);
    expect(readdirSync(maildir)).toEqual(["1700000000.M1.host:2,S"]);
    execFileSync("sh", ["-c", command]); // idempotent: nothing left to remove is not an error
  });

  it("is aimed at <mailRoot>/<domain>/<localpart>/home of the production mailbox", () => {
    expect(sieveRemovalCommand(mailbox, config.mailserver)).toBe(
      "rm -f -- '/var/mail/viktorbarzin.me/docs/home/.dovecot.sieve' '/var/mail/viktorbarzin.me/docs/home/.dovecot.svbin'",
    );
  });
});

// Against the real Dovecot of docker-mailserver: tests/mailpath (create, idempotent re-run, unknown user).
describe("processedFolderCommand", () => {
  it("quotes a folder name with shell syntax", () => {
    expect(processedFolderCommand({ ...mailbox, processedFolder: "It's $done" })).toContain(
      `doveadm mailbox create -u 'docs@viktorbarzin.me' 'It'\\''s $done'`,
    );
  });
});
