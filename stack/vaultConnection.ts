// Where the Vault provider will connect (stack/vaultAccess.ts resolves it as the provider does), so
// the write preflight asks the same Vault, as the same token, that `pulumi up` will write with.
import { homedir } from "node:os";
import * as pulumi from "@pulumi/pulumi";
import { type VaultAccess, vaultAccessFrom } from "./vaultAccess";

/** The Vault access with the token a secret output: what the program hands to the Vault provider and its preflight. */
export type VaultConnection = Omit<VaultAccess, "token"> & { readonly token: pulumi.Output<string> };

export function readVaultConnection(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): VaultConnection {
  // allConfig, not pulumi.Config: the token is wrapped as a secret right here, wherever it came from.
  const settings = vaultAccessFrom(pulumi.runtime.allConfig(), env, home);
  return { ...settings, token: pulumi.secret(settings.token) };
}
