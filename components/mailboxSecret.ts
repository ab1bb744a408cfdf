// The ingest mailbox's password: the user's secret config value, or generated once and kept in
// state; stored in Vault KV v2 and handed on (as a secret) to the account line and paperless.
import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import type { Mailbox, VaultSettings } from "../core/types";
import { RandomText } from "../providers/random/resources";
import { VaultWritePreflight } from "../providers/vault/resources";
import type { VaultConnection } from "../stack/vaultConnection";

// Letters and digits only: safe in IMAP LOGIN, in shells and in every config format it may meet.
const PASSWORD_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const PASSWORD_LENGTH = 32; // ~190 bits

export interface MailboxSecretArgs {
  mailbox: Mailbox;
  vault: VaultSettings;
  /** A password the user set (`mailboxPasswords` secret config); generated when absent. */
  password?: pulumi.Input<string>;
  /** Where the Vault provider connects (stack/vaultConnection.ts): what the write preflight asks. */
  connection: VaultConnection;
  /** The program's Vault provider (stack/vaultConnection.ts), configured from the same keys. */
  provider: vault.Provider;
}

export class MailboxSecret extends pulumi.ComponentResource {
  /** Secret output. */
  readonly password: pulumi.Output<string>;
  /** `<mount>/<pathPrefix>/<address>`, as `vault kv get` takes it. */
  readonly vaultPath: string;
  /** Fails the preview when the token may not write the secret. */
  readonly preflight: VaultWritePreflight;
  /** The KV v2 secret `{username, password}`. */
  readonly secret: vault.generic.Secret;

  constructor(name: string, args: MailboxSecretArgs, opts?: pulumi.ComponentResourceOptions) {
    super("paperless-mail-ingest:vault:MailboxSecret", name, {}, opts);
    const { mailbox, vault: settings } = args;
    const password =
      args.password !== undefined
        ? pulumi.secret(args.password)
        : pulumi.secret(
            new RandomText(`${name}-password`, { alphabet: PASSWORD_ALPHABET, length: PASSWORD_LENGTH, secret: true }, { parent: this })
              .value,
          );
    const path = `${settings.pathPrefix}/${mailbox.address}`;
    // Fails the preview, not the middle of `up`, when the token may not write (or Vault is unreachable).
    const { address, addressSource, token, tokenSource, namespace, caCertFile, skipTlsVerify, skipChildToken } = args.connection;
    this.preflight = new VaultWritePreflight(
      `${name}-vault-preflight`,
      {
        address,
        addressSource,
        token,
        tokenSource,
        namespace,
        caCertFile,
        skipTlsVerify,
        skipChildToken,
        mount: settings.mount,
        name: path,
      },
      { parent: this },
    );
    // generic.Secret, not kv.SecretV2: on a KV v2 mount it writes <mount>/data/<path> as SecretV2
    // does, but its refresh reads the data back, so a password rewritten in Vault by hand shows as
    // drift and `up` restores it (SecretV2's read, since provider v5, fetches only the metadata).
    this.secret = new vault.generic.Secret(
      name,
      {
        path: `${settings.mount}/${path}`,
        dataJson: pulumi.secret(pulumi.output(password).apply((p) => JSON.stringify({ username: mailbox.address, password: p }))),
        // destroy removes every version: the password exists only for this program's mailbox.
        deleteAllVersions: true,
      },
      { parent: this, provider: args.provider, dependsOn: [this.preflight] },
    );
    // Consumers wait for Vault to hold the password before they use it.
    this.password = pulumi.secret(pulumi.all([password, this.secret.id]).apply(([p]) => p));
    this.vaultPath = `${settings.mount}/${path}`;
    this.registerOutputs({ password: this.password, vaultPath: this.vaultPath });
  }
}
