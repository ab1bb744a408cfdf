// The `vault:*` keys the Vault provider takes, with the type each is read as: the program hands them
// to its explicit Vault provider (stack/vaultConnection.ts), which ignores a key it does not know,
// so a misspelt `vault:adress` would silently fall back to VAULT_ADDR. Checked before anything runs.
// The list is @pulumi/vault's ProviderArgs (a test in tests/config/config.test.ts compares them).
import { closestName } from "../core/closestName";

type Kind = "string" | "boolean" | "number" | "object";

const each = (kind: Kind, keys: readonly string[]) => keys.map((key) => [key, kind] as const);
const KINDS: Readonly<Record<string, Kind>> = Object.fromEntries([
  ...each("string", [
    "addAddressToEnv",
    "address",
    "caCertDir",
    "caCertFile",
    "namespace",
    "tlsServerName",
    "token",
    "tokenName",
    "vaultVersionOverride",
  ]),
  ...each("boolean", ["setNamespaceFromToken", "skipChildToken", "skipGetVaultVersion", "skipTlsVerify"]),
  ...each("number", ["maxLeaseTtlSeconds", "maxRetries", "maxRetriesCcc"]),
  ...each("object", [
    "authLogin",
    "authLoginAws",
    "authLoginAzure",
    "authLoginCert",
    "authLoginGcp",
    "authLoginJwt",
    "authLoginKerberos",
    "authLoginOci",
    "authLoginOidc",
    "authLoginRadius",
    "authLoginTokenFile",
    "authLoginUserpass",
    "clientAuth",
    "headers",
  ]),
]);

export const VAULT_PROVIDER_KEYS: readonly string[] = Object.keys(KINDS);

const kindOf = (key: string): Kind | undefined => (Object.hasOwn(KINDS, key) ? KINDS[key] : undefined);

/** `true`, `"true"`, `"1"`, `"yes"`…: how the Vault provider reads a boolean setting. */
export function isTruthy(value: unknown): boolean {
  return value === true || (typeof value === "string" && /^(1|t|true|y|yes)$/i.test(value.trim()));
}

const FALSY_TEXT = /^(0|f|false|n|no)$/i;

/** A key's value as the program gets it: JSON text of the stack file's value (a plain string as itself). */
function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * What is wrong with `vault:<key>` set to `value` (the stack file's YAML value, or the text the
 * engine hands the program), or undefined when the provider takes it.
 */
export function vaultKeyProblem(key: string, value: unknown): string | undefined {
  const kind = kindOf(key);
  if (!kind) {
    const near = closestName(key, VAULT_PROVIDER_KEYS);
    return (
      `vault:${key}: not a key of the Vault provider, which would ignore it` +
      (near ? `; did you mean vault:${near}?` : `; its keys: ${VAULT_PROVIDER_KEYS.map((k) => `vault:${k}`).join(", ")}`)
    );
  }
  const v = typeof value === "string" && kind !== "string" ? parsed(value) : value;
  if (kind === "boolean" && typeof v !== "boolean" && !isTruthy(String(v)) && !FALSY_TEXT.test(String(v)))
    return `vault:${key}: ${JSON.stringify(value)} is not true or false`;
  if (kind === "number" && (typeof v !== "number" || !Number.isInteger(v) || v < 0))
    return `vault:${key}: ${JSON.stringify(value)} is not a whole number of 0 or more`;
  if (kind === "object" && (v === null || typeof v !== "object"))
    // The value is not quoted: these settings hold credentials (a login's password, a client key).
    return `vault:${key}: must be ${key === "headers" ? "a list" : "a map"} of the provider's settings (see @pulumi/vault's ProviderArgs), not a ${Array.isArray(v) ? "list" : typeof v}`;
  return undefined;
}

/** The value the provider's argument `key` takes, from the text the engine hands the program (already checked). */
export function vaultProviderArgument(key: string, text: string): unknown {
  const kind = kindOf(key);
  if (kind === "boolean") return isTruthy(text);
  return kind === "number" || kind === "object" ? JSON.parse(text) : text;
}
