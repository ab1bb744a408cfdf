// The mailbox's self-alias in the shared postfix-virtual.cf key, so the domain catch-all
// does not take its mail (docs/mailserver.md#the-self-alias).
import * as pulumi from "@pulumi/pulumi";
import { selfAliasLine } from "../core/aliasLine";
import type { KubeTarget } from "../core/kubeTarget";
import { clusterInput } from "../stack/kubernetesConnection";
import type { Mailbox, MailserverSettings } from "../core/types";
import { ConfigMapLines } from "../providers/kubernetes/resources";

export interface MailAliasArgs {
  mailbox: Mailbox;
  mailserver: MailserverSettings;
  /** The cluster (stack/kubernetesConnection.ts). */
  kube: KubeTarget;
}

export class MailAlias extends pulumi.ComponentResource {
  readonly aliasLine: string;
  /** The line in the shared ConfigMap's postfix-virtual.cf. */
  readonly line: ConfigMapLines;

  constructor(name: string, args: MailAliasArgs, opts?: pulumi.ComponentResourceOptions) {
    super("paperless-mail-ingest:mailserver:MailAlias", name, {}, opts);
    const { mailbox, mailserver } = args;
    this.aliasLine = selfAliasLine(mailbox.address);
    this.line = new ConfigMapLines(
      `${name}-alias-line`,
      {
        namespace: mailserver.namespace,
        name: mailserver.configMap,
        key: mailserver.virtualKey,
        owner: mailbox.address,
        format: "virtual",
        keys: [mailbox.address],
        lines: [this.aliasLine],
        cluster: clusterInput(args.kube),
      },
      { parent: this, additionalSecretOutputs: ["cluster"] },
    );
    this.registerOutputs({ aliasLine: this.aliasLine });
  }
}
