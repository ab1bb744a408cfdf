import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { processedFolderCommand, shellQuote, sieveRemovalCommand } from "../../core/mailboxCommands";
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
    expect(sieveRemovalCommand(mailbox, config.mailserver))
      .toBe("rm -f -- '/var/mail/viktorbarzin.me/docs/home/.dovecot.sieve' '/var/mail/viktorbarzin.me/docs/home/.dovecot.svbin'");
  });
});

describe("processedFolderCommand", () => {
  // A stand-in doveadm (an executable script) that records calls and keeps folders as files.
  function fakeDoveadm(state: string, statusFails = false): string {
    const script = join(state, "doveadm");
    writeFileSync(script, `#!/bin/sh
echo "$*" >> ${shellQuote(join(state, "calls"))}
case "$2" in
  create) [ ! -e ${shellQuote(state)}/"$5" ] && : > ${shellQuote(state)}/"$5" ;;
  status) ${statusFails ? "false" : `[ -e ${shellQuote(state)}/"$6" ]`} ;;
  *) true ;;
esac
`, { mode: 0o755 });
    return shellQuote(script);
  }

  it("creates and subscribes the folder, and succeeds again when it exists", () => {
    const state = mkdtempSync(join(tmpdir(), "dovecot-"));
    const command = processedFolderCommand(mailbox, fakeDoveadm(state));
    expect(spawnSync("sh", ["-c", command]).status).toBe(0);
    expect(existsSync(join(state, "Processed"))).toBe(true);
    expect(spawnSync("sh", ["-c", command]).status).toBe(0);
    expect(execFileSync("cat", [join(state, "calls")]).toString().trim().split("\n")).toEqual([
      "mailbox create -u docs@viktorbarzin.me Processed",
      "mailbox subscribe -u docs@viktorbarzin.me Processed",
      "mailbox create -u docs@viktorbarzin.me Processed",
      "mailbox status -u docs@viktorbarzin.me messages Processed",
      "mailbox subscribe -u docs@viktorbarzin.me Processed",
    ]);
  });

  it("fails when the folder can neither be created nor found", () => {
    const state = mkdtempSync(join(tmpdir(), "dovecot-"));
    writeFileSync(join(state, "Processed"), ""); // create fails…
    expect(spawnSync("sh", ["-c", processedFolderCommand(mailbox, fakeDoveadm(state, true))]).status).not.toBe(0);
  });

  it("quotes a folder name with shell syntax", () => {
    expect(processedFolderCommand({ ...mailbox, processedFolder: "It's $done" }))
      .toContain(`doveadm mailbox create -u 'docs@viktorbarzin.me' 'It'\\''s $done'`);
  });
});
