// The paperless half of the Pulumi program, as the E2E runs it inline: the stack config read and
// validated by stack/programConfig.ts, one components/paperlessMailbox.ts per mailbox, and
// the fetch after a change (components/mailFetchTrigger.ts) wired as index.ts wires it.
// The mailserver and Vault halves are left out: their providers (Kubernetes, Vault) cannot be
// built from Go modules here.
import * as pulumi from "@pulumi/pulumi";
import type { PulumiFn } from "@pulumi/pulumi/automation";
import { mailboxResourceName } from "../../core/names";
import { MailFetchTrigger } from "../../components/mailFetchTrigger";
import { PaperlessMailbox } from "../../components/paperlessMailbox";
import { readProgramConfig } from "../../stack/programConfig";

export const paperlessProgram: PulumiFn = async () => {
  const program = readProgramConfig();
  const { config } = program;
  const ruleIds: Record<string, unknown> = {};
  const keptAtDestroy: Record<string, unknown> = {};
  const boxes = config.mailboxes.map((mailbox) => {
    // In production an absent password is generated into Vault; the E2E sets every one.
    const password = program.mailboxPassword(mailbox.address);
    if (!password) throw new Error(`mailboxPasswords.${mailbox.address}: not set in the E2E stack`);
    const box = new PaperlessMailbox(mailboxResourceName(mailbox), {
      mailbox,
      mailserver: config.mailserver,
      paperless: config.paperless,
      password,
      stackAccounts: config.mailboxes.map((m) => m.accountName),
    });
    ruleIds[mailbox.address] = box.ruleIds;
    keptAtDestroy[mailbox.address] = box.keptAtDestroy;
    return box;
  });
  new MailFetchTrigger(
    "paperless-fetch",
    {
      paperless: config.paperless,
      accounts: config.mailboxes.map((m) => m.accountName),
      rulesFingerprint: pulumi.all(boxes.map((b) => b.rulesFingerprint)).apply((prints) => prints.join(",")),
    },
    { dependsOn: boxes },
  );
  return { ruleIds, keptAtDestroy };
};
