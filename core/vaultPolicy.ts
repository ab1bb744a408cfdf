// The Vault ACL policy the deploying token needs, for the stack's KV mount and path prefix,
// rendered from templates/vault-policy.hcl.mustache: what the README tells the user to apply,
// what `npm run render` writes, and what the tests give the token they deploy with.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Mustache from "mustache";
import type { VaultSettings } from "./types";

const TEMPLATE = readFileSync(join(__dirname, "..", "templates", "vault-policy.hcl.mustache"), "utf8");

export function vaultPolicy(vault: VaultSettings): string {
  // Mount and prefix are validated path segments (stack/config.ts): nothing to escape in HCL strings.
  return Mustache.render(TEMPLATE, vault, {}, { escape: (v: string) => v });
}
