// Where the Vault provider will connect, resolved the way the provider itself resolves it, so the
// write preflight (and `npm run doctor`) ask the same Vault, as the same token, that `pulumi up` writes with.
// Sources, first found wins (pulumi-vault / terraform-provider-vault configuration reference):
//   address   vault:address, else VAULT_ADDR
//   token     vault:token (secret), else VAULT_TOKEN, else ~/.vault-token (what `vault login` writes)
//   namespace vault:namespace, else VAULT_NAMESPACE
//   TLS       vault:caCertFile, else VAULT_CACERT; vault:skipTlsVerify, else VAULT_SKIP_VERIFY
//   child     vault:skipChildToken (default false: the provider works with a child token it creates)
// The `vault:*` keys belong to the Vault provider (stack/stackConfig.ts passes them through), so they
// are read here rather than in parseConfig.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { isTruthy } from "./vaultProviderKeys";

/** Where the Vault provider connects, resolved from the stack config and the environment; the token in plain text. */
export interface VaultAccess {
  /** Vault's origin URL; empty when neither vault:address nor VAULT_ADDR is set. */
  readonly address: string;
  /** Where the address came from (`vault:address` or `VAULT_ADDR`), for messages. */
  readonly addressSource: string;
  /** Empty when no source has a token. */
  readonly token: string;
  /** Where the token came from (`vault:token`, `VAULT_TOKEN` or `~/.vault-token`), for messages. */
  readonly tokenSource: string;
  /** Vault Enterprise namespace; empty for none. */
  readonly namespace: string;
  /** PEM file of the CA that signed Vault's certificate; empty for the system CAs. */
  readonly caCertFile: string;
  readonly skipTlsVerify: boolean;
  /** The provider then uses the token itself instead of creating a child token (which needs auth/token/create). */
  readonly skipChildToken: boolean;
}

/**
 * The resolution itself, from a stack's whole config (`vault:*` keys as `pulumi config --json`
 * and `pulumi.runtime.allConfig()` give them, secrets decrypted): the program and `npm run doctor`
 * both read Vault through it.
 */
export function vaultAccessFrom(
  config: Readonly<Record<string, string | undefined>>,
  env: NodeJS.ProcessEnv = process.env,
  home: string = homedir(),
): VaultAccess {
  const nonEmpty = (v: string | undefined): string | undefined => (v && v.trim() ? v.trim() : undefined);
  const get = (key: string) => nonEmpty(config[`vault:${key}`]);

  const cfgAddress = get("address");
  const envAddress = nonEmpty(env["VAULT_ADDR"]);
  const address = (cfgAddress ?? envAddress ?? "").replace(/\/+$/, "");
  const addressSource = cfgAddress ? "vault:address" : envAddress ? "VAULT_ADDR" : "";

  let token: string;
  let tokenSource: string;
  const cfgToken = get("token");
  if (cfgToken !== undefined) {
    token = cfgToken;
    tokenSource = "vault:token";
  } else if (nonEmpty(env["VAULT_TOKEN"])) {
    token = env["VAULT_TOKEN"]!.trim();
    tokenSource = "VAULT_TOKEN";
  } else {
    let fromFile: string | undefined;
    try {
      fromFile = nonEmpty(readFileSync(join(home, ".vault-token"), "utf8"));
    } catch {
      fromFile = undefined;
    }
    token = fromFile ?? "";
    tokenSource = fromFile ? "~/.vault-token" : "";
  }

  const skip = get("skipTlsVerify");
  return {
    address,
    addressSource,
    token,
    tokenSource,
    namespace: get("namespace") ?? nonEmpty(env["VAULT_NAMESPACE"]) ?? "",
    caCertFile: get("caCertFile") ?? nonEmpty(env["VAULT_CACERT"]) ?? "",
    skipTlsVerify: skip !== undefined ? isTruthy(skip) : isTruthy(env["VAULT_SKIP_VERIFY"]),
    skipChildToken: isTruthy(get("skipChildToken")),
  };
}
