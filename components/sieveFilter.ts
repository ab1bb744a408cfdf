// The mailbox's sieve allowlist: its own ConfigMap (Reloader restarts the mailserver when the
// data changes), mounted read-only with subPath where docker-mailserver looks for
// `<address>.dovecot.sieve`, added to the mailserver Deployment by server-side apply so this
// program owns only that volume, that mount and the Reloader search annotation.
import { createHash } from "node:crypto";
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { execWhenRolledOut, KubeTarget, podTarget, processedFolderCommand, sieveRemovalCommand } from "../core/mailboxCommands";
import { RELOADER_MATCH, sieveDeploymentPatch, sieveMount } from "../core/sieveMount";
import type { Mailbox, MailserverSettings } from "../core/types";
import { ApplyPreflight } from "../providers/kubernetes/applyPreflight";

export interface SieveFilterArgs {
  mailbox: Mailbox;
  mailserver: MailserverSettings;
  /** The rendered sieve script (core/sieve.ts renderSieve). */
  script: string;
  /** The cluster (core/mailboxCommands.ts kubeTarget). */
  kube: KubeTarget;
  /** What writes the mailbox's account line (MailboxAccount.line): doveadm knows no user before it. */
  accountLine: pulumi.Resource;
}

export class SieveFilter extends pulumi.ComponentResource {
  readonly configMapName: string;
  /** sha256 of the script, hex. */
  readonly sieveHash: string;

  constructor(name: string, args: SieveFilterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("paperless-mail-ingest:mailserver:SieveFilter", name, {}, opts);
    const { mailbox, mailserver, script } = args;
    const mount = sieveMount(mailbox, mailserver);
    const pod = podTarget(args.kube, mailserver);
    this.configMapName = mount.configMapName;
    this.sieveHash = createHash("sha256").update(script).digest("hex");

    const configMap = new k8s.core.v1.ConfigMap(name, {
      metadata: {
        name: mount.configMapName,
        namespace: mailserver.namespace,
        labels: { "app.kubernetes.io/part-of": "paperless-mail-ingest", "app.kubernetes.io/managed-by": "pulumi" },
        // Reloader restarts the mailserver when this data changes: a subPath file never updates in a running pod.
        annotations: { [RELOADER_MATCH]: "true" },
      },
      data: { [mount.key]: script },
    }, { parent: this });

    // docker-mailserver copies the sieve onto the mail volume and never removes the copy, so
    // destroy must. Created before the patch, hence deleted after it: the mount is gone (and
    // the pod rolled) before the copy is removed, so nothing reinstalls it.
    const removal = new command.local.Command(`${name}-uninstall`, {
      delete: execWhenRolledOut(pod, sieveRemovalCommand(mailbox, mailserver)),
    }, { parent: this });

    // Server-side apply without force: a field owned by another manager with another value is an
    // error naming that manager (at preview through the preflight's dry run, since the Kubernetes
    // provider skips Patch resources at preview). Deleting the patch gives up exactly these
    // fields; it depends on the ConfigMap, so it goes first and no mount is left pointing at a
    // deleted ConfigMap.
    const patch = sieveDeploymentPatch(mailbox, mailserver);
    const preflight = new ApplyPreflight(`${name}-preflight`, {
      path: `/apis/apps/v1/namespaces/${encodeURIComponent(mailserver.namespace)}/deployments/${encodeURIComponent(mailserver.deployment)}`,
      body: patch,
      fieldManager: mount.fieldManager,
      context: args.kube.context,
    }, { parent: this });
    const deploymentPatch = new k8s.apps.v1.DeploymentPatch(name, patch, { parent: this, dependsOn: [configMap, removal, preflight] });

    // The rules MOVE consumed mail into this folder; paperless fails the rule when it is missing.
    // For a new mailbox the user exists only once its account line is written and the pod that
    // Reloader restarts for it (and for the patch) is up: after both, the rollout wait below
    // waits for that pod instead of racing Reloader on the old one.
    new command.local.Command(`${name}-processed-folder`, {
      create: execWhenRolledOut(pod, processedFolderCommand(mailbox)),
    }, { parent: this, dependsOn: [args.accountLine, deploymentPatch] });

    this.registerOutputs({ configMapName: this.configMapName, sieveHash: this.sieveHash });
  }
}
