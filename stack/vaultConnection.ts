// Where the program reaches Vault, read once from the stack: the access the write preflight uses
// (stack/vaultAccess.ts resolves it as the provider does) and the one Vault provider every Vault
// resource is given, configured from the same `vault:*` keys. So the preflight asks the same
// Vault, as the same token, that `pulumi up` writes with.
import { homedir } from "node:os";
import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import { isConfigSecret } from "./engineConfig";
import { type VaultAccess, vaultAccessFrom } from "./vaultAccess";
import { vaultProviderArgument } from "./vaultProviderKeys";

/** The Vault access with the token a secret output: what the program hands to the Vault provider and its preflight. */
export type VaultConnection = Omit<VaultAccess, "token"> & { readonly token: pulumi.Output<string> };

export function readVaultConnection(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): VaultConnection {
  // allConfig, not pulumi.Config: the token is wrapped as a secret right here, wherever it came from.
  const settings = vaultAccessFrom(pulumi.runtime.allConfig(), env, home);
  return { ...settings, token: pulumi.secret(settings.token) };
}

/**
 * The provider's own name in stacks deployed before it was explicit: Pulumi's default provider
 * for @pulumi/vault 7.8.0. The explicit provider takes it over (an alias), so those stacks' Vault
 * secrets keep their provider and nothing is replaced.
 */
const FORMER_DEFAULT_PROVIDER = "default_7_8_0";

/**
 * The program's Vault provider, given exactly the `vault:*` keys of the stack, as the default
 * provider was: what the stack leaves out (the token, say) the provider still takes from its
 * environment (VAULT_TOKEN, ~/.vault-token) when it runs, so a rotated token is never in the state.
 */
export function vaultProvider(name: string): vault.Provider {
  const args: Record<string, pulumi.Input<unknown>> = {};
  for (const [fullKey, text] of Object.entries(pulumi.runtime.allConfig())) {
    const [ns, key] = fullKey.split(/:(.*)/s) as [string, string];
    if (ns !== "vault") continue;
    const value = vaultProviderArgument(key, text);
    args[key] = isConfigSecret(fullKey) ? pulumi.secret(value) : value;
  }
  return new vault.Provider(name, args, { aliases: [{ name: FORMER_DEFAULT_PROVIDER }] });
}
