// Everything the stack would deploy that can be made without a cluster or credentials,
// as file name -> content. The offline render writes these; the components deploy the same values.
import { paperlessPlan } from "./paperlessPlan";
import { renderSieve, sieveFileName } from "./sieve";
import type { IngestConfig } from "./types";

export const PLAN_FILE = "paperless-plan.json";

export function renderArtifacts(config: IngestConfig): Map<string, string> {
  const files = new Map<string, string>();
  for (const mailbox of config.mailboxes) files.set(sieveFileName(mailbox.address), renderSieve(mailbox));
  const plan = {
    paperless: config.paperless.url,
    mailboxes: config.mailboxes.map((mailbox) => ({ mailbox: mailbox.address, ...paperlessPlan(mailbox, config.mailserver) })),
  };
  files.set(PLAN_FILE, JSON.stringify(plan, null, 2) + "\n");
  return files;
}
