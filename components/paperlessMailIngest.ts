// One ingest mailbox end to end: its password in Vault, its account and self-alias lines in the
// mailserver's shared files, its sieve allowlist ConfigMap, its paperless account and rules.
// Every child is derived from the same validated Mailbox. What is shared by all mailboxes (the
// Deployment patch that mounts the sieves, the fetch) is built once by index.ts.
import type * as command from "@pulumi/command";
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type * as vault from "@pulumi/vault";
import type { KubeTarget } from "../core/kubeTarget";
import { renderSieve } from "../core/sieve";
import type { IngestConfig, Mailbox } from "../core/types";
import { MailAlias } from "./mailAlias";
import { MailboxAccount } from "./mailboxAccount";
import { MailboxSecret } from "./mailboxSecret";
import { PaperlessMailbox } from "./paperlessMailbox";
import { SieveFilter } from "./sieveFilter";
import type { VaultConnection } from "../stack/vaultConnection";

export interface PaperlessMailIngestArgs {
  mailbox: Mailbox;
  config: IngestConfig;
  /** A password the user set for this mailbox (secret); generated when absent. */
  password?: pulumi.Input<string>;
  /** The cluster and the program's Kubernetes provider (stack/kubernetesConnection.ts). */
  kube: KubeTarget;
  kubernetesProvider: k8s.Provider;
  /** Where Vault is and the program's Vault provider (stack/vaultConnection.ts). */
  vaultConnection: VaultConnection;
  vaultProvider: vault.Provider;
  /** The program's command provider (stack/commandConnection.ts), for the sieve's kubectl steps. */
  commandProvider: command.Provider;
}

export class PaperlessMailIngest extends pulumi.ComponentResource {
  /** sender address -> paperless username. */
  readonly senders: Record<string, string>;
  readonly ruleIds: pulumi.Output<Record<string, number>>;
  readonly rulesFingerprint: pulumi.Output<string>;
  /** paperless objects a destroy leaves in place (adopted ones). */
  readonly keptAtDestroy: pulumi.Output<string[]>;
  /** The password, in Vault. */
  readonly secret: MailboxSecret;
  /** The account line (the mailbox exists for Dovecot once `account.line` is written). */
  readonly account: MailboxAccount;
  readonly alias: MailAlias;
  /** The paperless half (account, tags, rules). */
  readonly paperless: PaperlessMailbox;
  readonly sieve: SieveFilter;
  readonly vaultPath: string;

  constructor(name: string, args: PaperlessMailIngestArgs, opts?: pulumi.ComponentResourceOptions) {
    super("paperless-mail-ingest:index:PaperlessMailIngest", name, {}, opts);
    const { mailbox, config, kube } = args;
    const { mailserver, paperless } = config;
    const parent = { parent: this };

    const secret = new MailboxSecret(
      name,
      {
        mailbox,
        vault: config.vault,
        ...(args.password !== undefined ? { password: args.password } : {}),
        connection: args.vaultConnection,
        provider: args.vaultProvider,
      },
      parent,
    );
    this.secret = secret;
    this.account = new MailboxAccount(name, { mailbox, mailserver, password: secret.password, kube }, parent);
    // After the Vault secret (and its write check), like everything that takes the password:
    // even with `up --skip-preview`, a token that may not write stops the deploy before the
    // mailserver is touched.
    const afterSecret = { parent: this, dependsOn: [secret] };
    this.alias = new MailAlias(name, { mailbox, mailserver, kube }, afterSecret);
    this.paperless = new PaperlessMailbox(
      name,
      {
        mailbox,
        mailserver,
        paperless,
        password: secret.password,
        stackAccounts: config.mailboxes.map((m) => m.accountName),
      },
      parent,
    );
    // The sieve keeps a sender's mail only once that sender's rule is on this mailbox's account, so
    // a change that fails half-way (a rule that could not be made) never leaves mail kept here that
    // no rule files. (So destroy, in reverse, removes the sieve before the rules.)
    this.sieve = new SieveFilter(
      name,
      { mailbox, mailserver, script: renderSieve(mailbox), kube, provider: args.kubernetesProvider, commandProvider: args.commandProvider },
      { parent: this, dependsOn: [secret, this.paperless] },
    );

    this.senders = Object.fromEntries(mailbox.senders.map((s) => [s.address, s.user]));
    this.ruleIds = this.paperless.ruleIds;
    this.rulesFingerprint = this.paperless.rulesFingerprint;
    this.keptAtDestroy = this.paperless.keptAtDestroy;
    this.vaultPath = secret.vaultPath;
    this.registerOutputs({ senders: this.senders, ruleIds: this.ruleIds, sieveHash: this.sieve.sieveHash, vaultPath: this.vaultPath });
  }
}
