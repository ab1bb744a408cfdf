// Shell text run inside the docker-mailserver container (plain POSIX sh). Kept pure so the
// same strings are exercised against a real Dovecot in tests/mailpath.
import { inDir } from "./names";
import { shellQuote } from "./shellQuote";
import type { Mailbox, MailserverSettings } from "./types";

/**
 * Create and subscribe the folder the paperless rules MOVE consumed mail into: paperless fails a
 * MOVE whose target is missing. Idempotent: an existing folder is accepted, any other failure is not.
 */
export function processedFolderCommand(mailbox: Mailbox): string {
  const user = shellQuote(mailbox.address);
  const folder = shellQuote(mailbox.processedFolder);
  return (
    `{ doveadm mailbox create -u ${user} ${folder} 2>/dev/null || doveadm mailbox status -u ${user} messages ${folder} >/dev/null; }` +
    ` && doveadm mailbox subscribe -u ${user} ${folder}`
  );
}

/** `<mailRoot>/<domain>/<localpart>/home`: where docker-mailserver installs the user's active sieve. */
export function sieveHome(mailbox: Mailbox, mailserver: MailserverSettings): string {
  return inDir(mailserver.mailRoot, mailbox.domain, mailbox.localPart, "home");
}

/**
 * docker-mailserver copies the sieve once onto the mail volume and never deletes it, so a rollback
 * must remove the copy and its compiled form itself. Only those two files: the mail is the user's.
 */
export function sieveRemovalCommand(mailbox: Mailbox, mailserver: MailserverSettings): string {
  const home = sieveHome(mailbox, mailserver);
  return `rm -f -- ${shellQuote(`${home}/.dovecot.sieve`)} ${shellQuote(`${home}/.dovecot.svbin`)}`;
}

/**
 * Succeeds only when the sieve docker-mailserver installed for the mailbox is byte for byte the
 * one the program rendered (sha256, hex): the proof that a changed allowlist reached the
 * running mail server (docker-mailserver copies it onto the mail volume at start).
 */
export function sieveInstalledCheck(mailbox: Mailbox, mailserver: MailserverSettings, sha256: string): string {
  const installed = shellQuote(`${sieveHome(mailbox, mailserver)}/.dovecot.sieve`);
  return `[ "$(sha256sum < ${installed} 2>/dev/null | cut -d' ' -f1)" = ${shellQuote(sha256)} ]`;
}
