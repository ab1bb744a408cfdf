// The mailbox's line in the shared postfix-accounts.cf key: SHA512-CRYPT with a salt generated
// once and kept in state, so the same password always gives the same line (no re-hash per apply).
import * as pulumi from "@pulumi/pulumi";
import { accountLine, CRYPT_ALPHABET, SALT_LENGTH } from "../core/accountLine";
import type { KubeTarget } from "../core/kubeTarget";
import { clusterInput } from "../stack/kubernetesConnection";
import type { Mailbox, MailserverSettings } from "../core/types";
import { ConfigMapLines } from "../providers/kubernetes/resources";
import { RandomText } from "../providers/random/resources";

export interface MailboxAccountArgs {
  mailbox: Mailbox;
  mailserver: MailserverSettings;
  /** Secret; from MailboxSecret. */
  password: pulumi.Input<string>;
  /** The cluster (stack/kubernetesConnection.ts). */
  kube: KubeTarget;
}

export class MailboxAccount extends pulumi.ComponentResource {
  /** Secret output: `address|{SHA512-CRYPT}$6$…`. */
  readonly accountLine: pulumi.Output<string>;
  /** The hash's salt, generated once and kept in state. */
  readonly salt: RandomText;
  /** The resource that puts the line into the shared ConfigMap: what makes the user exist for Dovecot. */
  readonly line: ConfigMapLines;

  constructor(name: string, args: MailboxAccountArgs, opts?: pulumi.ComponentResourceOptions) {
    super("paperless-mail-ingest:mailserver:MailboxAccount", name, {}, opts);
    const { mailbox, mailserver } = args;
    this.salt = new RandomText(`${name}-salt`, { alphabet: CRYPT_ALPHABET, length: SALT_LENGTH, secret: false }, { parent: this });
    this.accountLine = pulumi.secret(pulumi.all([args.password, this.salt.value]).apply(([p, s]) => accountLine(mailbox.address, p, s)));
    this.line = new ConfigMapLines(
      `${name}-account-line`,
      {
        namespace: mailserver.namespace,
        name: mailserver.configMap,
        key: mailserver.accountsKey,
        owner: mailbox.address,
        format: "accounts",
        keys: [mailbox.address],
        lines: this.accountLine.apply((l) => [l]),
        cluster: clusterInput(args.kube),
      },
      { parent: this, additionalSecretOutputs: ["lines", "cluster"] },
    );
    this.registerOutputs({ accountLine: this.accountLine });
  }
}
