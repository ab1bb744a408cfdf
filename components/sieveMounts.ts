// Program level, mailserver side: every mailbox's sieve ConfigMap mounted into the mailserver
// Deployment by ONE server-side apply patch with the program's one field manager, and per
// mailbox the proof that the running mail server serves it as declared (the installed sieve is
// the rendered one, the Processed folder exists).
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { execWhenRolledOut, kubectlEnvironment, kubectlScript, KubeTarget, podTarget } from "../core/kubectlCommands";
import { processedFolderCommand, sieveInstalledCheck } from "../core/mailboxCommands";
import { mailboxResourceName } from "../core/names";
import { DEPLOYMENT_FIELD_MANAGER, sieveDeploymentPatch } from "../core/sieveMount";
import type { Mailbox, MailserverSettings } from "../core/types";
import { ApplyPreflight } from "../providers/kubernetes/applyPreflight";
import type { SieveFilter } from "./sieveFilter";

export interface MountedMailbox {
  mailbox: Mailbox;
  sieve: SieveFilter;
  /** What writes the mailbox's account line (MailboxAccount.line): doveadm knows no user before it. */
  accountLine: pulumi.Resource;
}

export interface SieveMountsArgs {
  mailboxes: readonly MountedMailbox[];
  mailserver: MailserverSettings;
  kube: KubeTarget;
  provider: k8s.Provider;
}

export class SieveMounts extends pulumi.ComponentResource {
  /** Per mailbox address: the step that proved the mail server runs its sieve (for whatever must come after). */
  readonly ready: Record<string, pulumi.Resource>;

  constructor(name: string, args: SieveMountsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("paperless-mail-ingest:mailserver:SieveMounts", name, {}, opts);
    const { mailserver } = args;
    const patch = sieveDeploymentPatch(args.mailboxes.map((m) => m.mailbox), mailserver);

    // The Kubernetes provider skips Patch resources at preview, so a field another manager owns
    // would only fail mid-`up`; this dry run fails the preview instead, naming that manager.
    const preflight = new ApplyPreflight(`${name}-preflight`, {
      path: `/apis/apps/v1/namespaces/${encodeURIComponent(mailserver.namespace)}/deployments/${encodeURIComponent(mailserver.deployment)}`,
      body: patch,
      fieldManager: DEPLOYMENT_FIELD_MANAGER,
      context: args.kube.context,
    }, { parent: this });
    // No force: a conflict is an error, never a takeover. Deleting it gives up exactly these
    // fields (and rolls the pod); it goes before every ConfigMap and rollback step it depends on.
    const deploymentPatch = new k8s.apps.v1.DeploymentPatch(name, patch, {
      parent: this, provider: args.provider,
      dependsOn: [preflight, ...args.mailboxes.flatMap((m) => m.sieve.mountDependencies)],
    });

    const pod = podTarget(args.kube, mailserver);
    this.ready = Object.fromEntries(args.mailboxes.map(({ mailbox, sieve, accountLine }) => {
      // Re-runs whenever the script (which names the sieve's hash) changes: `up` ends only when
      // Reloader has restarted the mail server and docker-mailserver installed the new sieve.
      const ready = new command.local.Command(`${mailboxResourceName(mailbox)}-ready`, {
        create: kubectlScript(execWhenRolledOut(pod,
          `${sieveInstalledCheck(mailbox, mailserver, sieve.sieveHash)} && ${processedFolderCommand(mailbox)}`, {
            attempts: 30, pauseSeconds: 10,
            failure: `the mailserver pod does not run the sieve of ${mailbox.address} (sha256 ${sieve.sieveHash}) after 30 attempts: `
              + `is Stakater Reloader running and watching namespace ${mailserver.namespace}? `
              + `(ConfigMap ${sieve.mount.configMapName} carries reloader.stakater.com/match, Deployment ${mailserver.deployment} reloader.stakater.com/search)`,
          })),
        environment: pulumi.secret(kubectlEnvironment(args.kube)),
      }, { parent: this, dependsOn: [deploymentPatch, accountLine, ...sieve.mountDependencies] });
      return [mailbox.address, ready];
    }));
    this.registerOutputs({});
  }
}
