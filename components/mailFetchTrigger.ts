// Optional: have paperless fetch mail right after the rules change instead of at its next
// scheduled run (every 10 minutes by default). Through paperless's API, as the stack's API token:
// one fetch per mail account of the stack, then a wait until paperless shows it finished
// (providers/paperless/mailFetch.ts).
import * as pulumi from "@pulumi/pulumi";
import type { PaperlessSettings } from "../core/types";
import { PaperlessMailFetch } from "../providers/paperless/resources";

export interface MailFetchTriggerArgs {
  paperless: PaperlessSettings;
  /** The stack's paperless mail accounts, by name: one per ingest mailbox. */
  accounts: readonly string[];
  /** Changes exactly when some paperless rule changes; the fetch re-runs only then. */
  rulesFingerprint: pulumi.Input<string>;
}

export class MailFetchTrigger extends pulumi.ComponentResource {
  /** False when `paperless.fetchAfterChange` is off: then nothing is created. */
  readonly enabled: boolean;

  constructor(name: string, args: MailFetchTriggerArgs, opts?: pulumi.ComponentResourceOptions) {
    super(
      "paperless-mail-ingest:paperless:MailFetchTrigger",
      name,
      {},
      { ...opts, aliases: [...(opts?.aliases ?? []), { type: "paperless-mail-ingest:mailserver:MailFetchTrigger" }] },
    );
    const { paperless } = args;
    this.enabled = paperless.fetchAfterChange;
    if (this.enabled) {
      new PaperlessMailFetch(
        name,
        {
          url: paperless.url,
          accounts: [...args.accounts],
          rulesFingerprint: args.rulesFingerprint,
          // Passed on explicitly: the fetch must wait for the rules and mailboxes the caller made it depend on.
        },
        { parent: this, ...(opts?.dependsOn ? { dependsOn: opts.dependsOn } : {}) },
      );
    }
    this.registerOutputs({ enabled: this.enabled });
  }
}
