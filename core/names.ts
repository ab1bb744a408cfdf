// Names derived from a mailbox address where `@` is not allowed (Pulumi resource names kept
// readable, ConfigMap keys `[-._a-zA-Z0-9]+`): docs@example.org -> docs-at-example.org.
import type { Mailbox } from "./types";

export function atName(address: string): string {
  return address.replace("@", "-at-");
}

/**
 * `<dir>/<name>` for a directory from the config (configDir, mailRoot), which may end in `/`:
 * the one place those paths are joined.
 */
export function inDir(dir: string, ...names: string[]): string {
  return [dir.replace(/\/+$/, ""), ...names].join("/");
}

/** Resource name of a mailbox's components, shared by index.ts and the E2E program. */
export function mailboxResourceName(mailbox: Mailbox): string {
  return atName(mailbox.address);
}
