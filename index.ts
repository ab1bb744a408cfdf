// paperless-mail-ingest: one PaperlessMailIngest per ingest mailbox, all from the stack's one
// validated sender list. A bad config fails here, listing every problem, before any resource exists.
import * as pulumi from "@pulumi/pulumi";
import { mailboxResourceName } from "./core/names";
import { PaperlessMailIngest } from "./components/paperlessMailIngest";
import { readProgramConfig } from "./components/programConfig";
import { readVaultConnection } from "./components/vaultConnection";

const program = readProgramConfig();
const kubeContext = new pulumi.Config("kubernetes").get("context");
const vaultConnection = readVaultConnection();

const ingests = program.config.mailboxes.map((mailbox) => {
  const password = program.mailboxPassword(mailbox.address);
  const ingest = new PaperlessMailIngest(mailboxResourceName(mailbox), {
    mailbox,
    config: program.config,
    paperlessToken: program.paperlessToken,
    ...(password ? { password } : {}),
    ...(kubeContext ? { kubeContext } : {}),
    vaultConnection,
  });
  return { mailbox: mailbox.address, ingest };
});

/** Per mailbox: sender -> owner, the paperless rule ids, the sieve's content hash, the Vault path. */
export const mailboxes = Object.fromEntries(ingests.map(({ mailbox, ingest }) => [mailbox, {
  senders: ingest.senders,
  ruleIds: ingest.ruleIds,
  sieveSha256: ingest.sieveHash,
  vaultPath: ingest.vaultPath,
}]));
