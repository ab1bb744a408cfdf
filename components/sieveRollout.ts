// Program level, mailserver side: every mailbox's sieve ConfigMap mounted into the mailserver
// Deployment by ONE server-side apply with the program's one field manager (checked by a dry run
// at preview), and per mailbox the proof that the running mail server serves it as declared (the
// installed sieve is the rendered one, the Processed folder exists).
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { execWhenRolledOut, kubectlEnvironment, kubectlScript, podTarget } from "../core/kubectlCommands";
import type { KubeTarget } from "../core/kubeTarget";
import { processedFolderCommand, sieveInstalledCheck } from "../core/mailboxCommands";
import { mailboxResourceName } from "../core/names";
import { deploymentMounts } from "../core/deploymentPatch";
import type { Mailbox, MailserverSettings } from "../core/types";
import { DeploymentMountsPatch } from "../providers/kubernetes/resources";
import { clusterInput } from "../stack/kubernetesConnection";
import type { SieveFilter } from "./sieveFilter";

export interface MountedMailbox {
  mailbox: Mailbox;
  sieve: SieveFilter;
  /** What writes the mailbox's account line (MailboxAccount.line): doveadm knows no user before it. */
  accountLine: pulumi.Resource;
}

export interface SieveRolloutArgs {
  mailboxes: readonly MountedMailbox[];
  mailserver: MailserverSettings;
  kube: KubeTarget;
  /** The program's command provider (stack/commandConnection.ts), for the steps that prove each sieve runs. */
  commandProvider: command.Provider;
}

export class SieveRollout extends pulumi.ComponentResource {
  /** The one server-side apply that mounts every mailbox's sieve into the mailserver Deployment. */
  readonly deploymentPatch: DeploymentMountsPatch;
  /** Per mailbox address: the step that proved the mail server runs its sieve (for whatever must come after). */
  readonly ready: Record<string, pulumi.Resource>;

  constructor(name: string, args: SieveRolloutArgs, opts?: pulumi.ComponentResourceOptions) {
    // Stacks deployed before it had its name hold it as SieveMounts: an alias, so nothing is replaced.
    super(
      "paperless-mail-ingest:mailserver:SieveRollout",
      name,
      {},
      {
        ...opts,
        aliases: [...(opts?.aliases ?? []), { type: "paperless-mail-ingest:mailserver:SieveMounts" }],
      },
    );
    const { mailserver } = args;
    // No force: a field another manager owns is an error (at preview too: the provider's check
    // dry-runs the apply), never a takeover. It is removed before every ConfigMap and rollback
    // step it depends on; removing it gives up exactly our fields (and rolls the pod).
    this.deploymentPatch = new DeploymentMountsPatch(
      name,
      {
        ...deploymentMounts(
          args.mailboxes.map((m) => m.mailbox),
          mailserver,
        ),
        cluster: clusterInput(args.kube),
      },
      { parent: this, additionalSecretOutputs: ["cluster"], dependsOn: args.mailboxes.flatMap((m) => m.sieve.mountDependencies) },
    );

    const pod = podTarget(args.kube, mailserver);
    this.ready = Object.fromEntries(
      args.mailboxes.map(({ mailbox, sieve, accountLine }) => {
        // Re-runs whenever the script (which names the sieve's hash) changes: `up` ends only when
        // Reloader has restarted the mail server and docker-mailserver installed the new sieve.
        const ready = new command.local.Command(
          `${mailboxResourceName(mailbox)}-ready`,
          {
            create: kubectlScript(
              execWhenRolledOut(pod, `${sieveInstalledCheck(mailbox, mailserver, sieve.sieveHash)} && ${processedFolderCommand(mailbox)}`, {
                attempts: 30,
                pauseSeconds: 10,
                failure:
                  `the mailserver pod does not run the sieve of ${mailbox.address} (sha256 ${sieve.sieveHash}) after 30 attempts: ` +
                  `is Stakater Reloader running and watching namespace ${mailserver.namespace}? ` +
                  `(ConfigMap ${sieve.names.configMapName} carries reloader.stakater.com/match, Deployment ${mailserver.deployment} reloader.stakater.com/search)`,
              }),
            ),
            environment: pulumi.secret(kubectlEnvironment(args.kube)),
          },
          { parent: this, provider: args.commandProvider, dependsOn: [this.deploymentPatch, accountLine, ...sieve.mountDependencies] },
        );
        return [mailbox.address, ready];
      }),
    );
    this.registerOutputs({});
  }
}
