// One ingest mailbox end to end: its password in Vault, its account and self-alias lines in the
// mailserver's shared files, its sieve allowlist, its paperless account and rules, and the
// optional immediate fetch. Every child is derived from the same validated Mailbox.
import * as pulumi from "@pulumi/pulumi";
import { kubeTarget } from "../core/mailboxCommands";
import { renderSieve } from "../core/sieve";
import type { IngestConfig, Mailbox } from "../core/types";
import { MailAlias } from "./mailAlias";
import { MailboxAccount } from "./mailboxAccount";
import { MailboxSecret } from "./mailboxSecret";
import { MailFetchTrigger } from "./mailFetchTrigger";
import { PaperlessMailbox } from "./paperlessMailbox";
import { SieveFilter } from "./sieveFilter";
import type { VaultConnection } from "./vaultConnection";

export interface PaperlessMailIngestArgs {
  mailbox: Mailbox;
  config: IngestConfig;
  /** paperless-ngx API token (secret). */
  paperlessToken: pulumi.Input<string>;
  /** A password the user set for this mailbox (secret); generated when absent. */
  password?: pulumi.Input<string>;
  /** kubeconfig context shared with the Kubernetes provider (`kubernetes:context`). */
  kubeContext?: string;
  /** Where the Vault provider connects (components/vaultConnection.ts); read there when absent. */
  vaultConnection?: VaultConnection;
}

export class PaperlessMailIngest extends pulumi.ComponentResource {
  /** sender address -> paperless username. */
  readonly senders: Record<string, string>;
  readonly ruleIds: pulumi.Output<Record<string, number>>;
  readonly sieveHash: string;
  readonly vaultPath: string;

  constructor(name: string, args: PaperlessMailIngestArgs, opts?: pulumi.ComponentResourceOptions) {
    super("paperless-mail-ingest:index:PaperlessMailIngest", name, {}, opts);
    const { mailbox, config } = args;
    const { mailserver, paperless } = config;
    const parent = { parent: this };
    const kube = kubeTarget(args.kubeContext);

    const secret = new MailboxSecret(name, {
      mailbox, vault: config.vault, ...(args.password !== undefined ? { password: args.password } : {}),
      ...(args.vaultConnection ? { connection: args.vaultConnection } : {}),
    }, parent);
    const account = new MailboxAccount(name, { mailbox, mailserver, password: secret.password, kube }, parent);
    // After the Vault secret (and its write check), like everything that takes the password:
    // even with `up --skip-preview`, a token that may not write stops the deploy before the
    // mailserver is touched.
    const afterSecret = { parent: this, dependsOn: [secret] };
    new MailAlias(name, { mailbox, mailserver, kube }, afterSecret);
    const sieve = new SieveFilter(name, { mailbox, mailserver, script: renderSieve(mailbox), kube, accountLine: account.line }, afterSecret);
    const rules = new PaperlessMailbox(name, {
      mailbox, mailserver, paperless, apiToken: args.paperlessToken, password: secret.password,
    }, parent);
    new MailFetchTrigger(name, { paperless, rulesFingerprint: rules.rulesFingerprint, kube }, { parent: this, dependsOn: [rules] });

    this.senders = Object.fromEntries(mailbox.senders.map((s) => [s.address, s.user]));
    this.ruleIds = rules.ruleIds;
    this.sieveHash = sieve.sieveHash;
    this.vaultPath = secret.vaultPath;
    this.registerOutputs({ senders: this.senders, ruleIds: this.ruleIds, sieveHash: this.sieveHash, vaultPath: this.vaultPath });
  }
}
