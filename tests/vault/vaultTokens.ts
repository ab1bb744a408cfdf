// Tokens with chosen ACL policies in a real Vault: written as HCL policies, created by the root token.
import { randomBytes } from "node:crypto";
import type { VaultDev } from "../support/cluster/vault";

/** rule path -> capabilities, as in an ACL policy's `path "…" { capabilities = […] }`. */
export type VaultPolicy = Record<string, string[]>;

const hcl = (policy: VaultPolicy) =>
  Object.entries(policy)
    .map(([path, caps]) => `path "${path}" {\n  capabilities = ${JSON.stringify(caps)}\n}`)
    .join("\n");

/** A token holding these policies (and Vault's `default` policy, as every token has). */
export async function tokenWith(vault: Pick<VaultDev, "api">, policies: readonly VaultPolicy[]): Promise<string> {
  const names: string[] = [];
  for (const policy of policies) {
    const name = `test-${randomBytes(4).toString("hex")}`;
    const put = await vault.api("PUT", `sys/policies/acl/${name}`, { policy: hcl(policy) });
    if (put.status !== 204) throw new Error(`writing policy ${name}: HTTP ${put.status} ${JSON.stringify(put.json)}`);
    names.push(name);
  }
  const created = await vault.api("POST", "auth/token/create", { policies: names, ttl: "1h" });
  if (created.status !== 200) throw new Error(`creating a token: HTTP ${created.status} ${JSON.stringify(created.json)}`);
  return created.json.auth.client_token as string;
}
