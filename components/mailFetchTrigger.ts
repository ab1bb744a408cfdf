// Optional: run paperless's mail fetcher right after the rules change instead of waiting for
// the 10-minute schedule. Always as the paperless user: a root run leaves root-owned files
// the consumer (uid 1000) cannot read. One run serves every mailbox: the fetcher polls all
// mail accounts.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { kubectlEnvironment, kubectlExec, kubectlScript, KubeTarget, podTarget } from "../core/kubectlCommands";
import type { PaperlessSettings } from "../core/types";

export const MAIL_FETCHER = ["s6-setuidgid", "paperless", "python3", "manage.py", "mail_fetcher"] as const;

export interface MailFetchTriggerArgs {
  paperless: PaperlessSettings;
  /** Changes exactly when some paperless rule changes; the fetch re-runs only then. */
  rulesFingerprint: pulumi.Input<string>;
  /** The cluster (components/kubernetesConnection.ts). */
  kube: KubeTarget;
}

export class MailFetchTrigger extends pulumi.ComponentResource {
  /** False when `paperless.fetchAfterChange` is off: then nothing is created. */
  readonly enabled: boolean;

  constructor(name: string, args: MailFetchTriggerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("paperless-mail-ingest:paperless:MailFetchTrigger", name, {}, { ...opts, aliases: [...(opts?.aliases ?? []), { type: "paperless-mail-ingest:mailserver:MailFetchTrigger" }] });
    const { paperless } = args;
    this.enabled = paperless.fetchAfterChange;
    if (this.enabled) {
      new command.local.Command(name, {
        create: kubectlScript(kubectlExec(podTarget(args.kube, paperless), MAIL_FETCHER)),
        environment: pulumi.secret(kubectlEnvironment(args.kube)),
        triggers: [args.rulesFingerprint],
        // Passed on explicitly: the fetch must wait for the rules and mailboxes the caller made it depend on.
      }, { parent: this, ...(opts?.dependsOn ? { dependsOn: opts.dependsOn } : {}) });
    }
    this.registerOutputs({ enabled: this.enabled });
  }
}
