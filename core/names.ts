// Names derived from a mailbox address where `@` is not allowed (Pulumi resource names kept
// readable, ConfigMap keys `[-._a-zA-Z0-9]+`): docs@example.org -> docs-at-example.org.
import type { Mailbox } from "./types";

export function atName(address: string): string {
  return address.replace("@", "-at-");
}

/** Resource name of a mailbox's components, shared by index.ts and the E2E program. */
export function mailboxResourceName(mailbox: Mailbox): string {
  return atName(mailbox.address);
}
