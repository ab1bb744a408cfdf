// One mailbox's sieve allowlist on the mailserver side: its own ConfigMap (key without `@`,
// Reloader annotation) and the rollback step that removes the copy docker-mailserver installed.
// The program-level SieveRollout mounts every mailbox's ConfigMap into the Deployment.
import { createHash } from "node:crypto";
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { execWhenRolledOut, kubectlEnvironment, kubectlScript, podTarget, removeEnvVar } from "../core/kubectlCommands";
import type { KubeTarget } from "../core/kubeTarget";
import { sieveRemovalCommand } from "../core/mailboxCommands";
import { reloaderEnvVar, sieveConfigMap, sieveNames, type SieveNames } from "../core/sieveConfigMap";
import type { Mailbox, MailserverSettings } from "../core/types";

export interface SieveFilterArgs {
  mailbox: Mailbox;
  mailserver: MailserverSettings;
  /** The rendered sieve script (core/sieve.ts renderSieve). */
  script: string;
  /** The cluster (stack/kubernetesConnection.ts). */
  kube: KubeTarget;
  /** The program's Kubernetes provider (ConfigMap data updated in place, see stack/kubernetesConnection.ts). */
  provider: k8s.Provider;
  /** The program's command provider (stack/commandConnection.ts). */
  commandProvider: command.Provider;
}

export class SieveFilter extends pulumi.ComponentResource {
  readonly names: SieveNames;
  /** sha256 of the script, hex. */
  readonly sieveHash: string;
  /** The sieve's own ConfigMap. */
  readonly configMap: k8s.core.v1.ConfigMap;
  /** At destroy: removes the sieve docker-mailserver installed, and Reloader's variable for the ConfigMap. */
  readonly uninstall: command.local.Command;
  /** What the Deployment patch must come after (and be removed before): the ConfigMap and the rollback step. */
  readonly mountDependencies: pulumi.Resource[];

  constructor(name: string, args: SieveFilterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("paperless-mail-ingest:mailserver:SieveFilter", name, {}, opts);
    const { mailbox, mailserver, script } = args;
    this.names = sieveNames(mailbox, mailserver);
    this.sieveHash = createHash("sha256").update(script).digest("hex");

    // Data changes are updates in place (the provider's enableConfigMapMutable): Reloader sees
    // them and restarts the mailserver, whose start-up installs the new script.
    const manifest = sieveConfigMap(mailbox, mailserver, script);
    this.configMap = new k8s.core.v1.ConfigMap(
      name,
      {
        // The object is wholly ours: a hand edit (kubectl edit/patch) is drift that `up` overwrites,
        // not a co-owner whose field would make the apply fail with a conflict.
        metadata: { ...manifest.metadata, annotations: { ...manifest.metadata.annotations, "pulumi.com/patchForce": "true" } },
        data: manifest.data,
      },
      { parent: this, provider: args.provider },
    );

    // docker-mailserver copies the sieve onto the mail volume and never removes the copy, so
    // destroy must. It depends on the ConfigMap and the Deployment patch depends on it, so on
    // destroy it runs after the mount is gone (nothing reinstalls the copy) and before the
    // ConfigMap is deleted. It also drops the variable Reloader wrote for this ConfigMap.
    const pod = podTarget(args.kube, mailserver);
    this.uninstall = new command.local.Command(
      `${name}-uninstall`,
      {
        delete: kubectlScript(
          removeEnvVar(pod, reloaderEnvVar(this.names.configMapName)),
          execWhenRolledOut(pod, sieveRemovalCommand(mailbox, mailserver), {
            attempts: 10,
            pauseSeconds: 10,
            failure:
              `could not remove the installed sieve of ${mailbox.address} from the mailserver pod; ` +
              `run \`pulumi destroy\` again once \`kubectl -n ${mailserver.namespace} rollout status deploy/${mailserver.deployment}\` succeeds`,
          }),
        ),
        environment: pulumi.secret(kubectlEnvironment(args.kube)),
      },
      { parent: this, provider: args.commandProvider, dependsOn: [this.configMap] },
    );

    this.mountDependencies = [this.configMap, this.uninstall];
    this.registerOutputs({ configMapName: this.names.configMapName, sieveHash: this.sieveHash });
  }
}
