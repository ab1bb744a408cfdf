// The stack config as the engine hands it to the program: every key's value as text, secrets
// decrypted, and which keys were set with `--secret`.
import * as pulumi from "@pulumi/pulumi";

/**
 * Whether a key was set with `--secret`. The engine hands the program the list of such keys
 * (PULUMI_CONFIG_SECRET_KEYS, kept in the SDK's config store); the SDK reads it with this function,
 * which its typings leave out. @pulumi/pulumi is pinned in package.json.
 */
export const isConfigSecret = (key: string): boolean =>
  (pulumi.runtime as unknown as { isConfigSecret(key: string): boolean }).isConfigSecret(key);
