// The Vault write preflight through the real Pulumi engine: its serialized provider runs in the
// engine's dynamic-provider plugin, `vault:*` comes from the stack config, and a token that may not
// write fails the preview with the one message, before anything exists. The Vault provider itself
// cannot run here, so a RandomText that dependsOn the preflight stands in for the SecretV2.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import type { PulumiFn } from "@pulumi/pulumi/automation";
import { readVaultConnection } from "../../components/vaultConnection";
import { RandomText } from "../../providers/random/randomText";
import { VaultWritePreflight } from "../../providers/vault/vaultPreflight";
import { engineStack, type EngineStack } from "../e2e/engine";
import { PROD_STACK_FILE, prodConfig } from "../support/prodConfig";
import { VaultEmulator } from "./vaultEmulator";

jest.setTimeout(180_000);

const config = prodConfig();
const NAME = `${config.vault.pathPrefix}/${config.mailboxes[0]!.address}`;
const TOKEN = `hvs.engine-${randomBytes(16).toString("hex")}`;
const PREFLIGHT = "docs-at-viktorbarzin.me-vault-preflight";

const program: PulumiFn = async () => {
  const { address, addressSource, token, tokenSource, namespace, caCertFile, skipTlsVerify } = readVaultConnection({}, "/nonexistent");
  const preflight = new VaultWritePreflight(PREFLIGHT, {
    address, addressSource, token, tokenSource, namespace, caCertFile, skipTlsVerify, mount: config.vault.mount, name: NAME,
  });
  new RandomText("stands-in-for-the-secret", { alphabet: "ab", length: 4, secret: false }, { dependsOn: [preflight] });
};

let vault: VaultEmulator;
let engine: EngineStack;

beforeAll(async () => {
  vault = await new VaultEmulator().start();
  engine = await engineStack("vault-preflight", program);
  // The CLI requires the project's declared config keys before any program runs: the prod stack's.
  const ws = engine.stack.workspace;
  const prod = (parseYaml(readFileSync(PROD_STACK_FILE, "utf8")) as { config: Record<string, unknown> }).config;
  await ws.saveStackSettings(engine.stack.name, { config: prod as never });
  await engine.stack.setConfig("vault:address", { value: vault.url });
  await engine.stack.setConfig("vault:token", { value: TOKEN, secret: true });
});

afterAll(async () => {
  engine?.dispose();
  await vault?.stop();
});

/** The engine's output of a failed operation (the Automation API throws it). */
async function failure(op: Promise<unknown>): Promise<string> {
  try { await op; } catch (e) { return String((e as Error).message); }
  throw new Error("expected the operation to fail");
}

const resourcesInState = async () => ((await engine.stack.exportStack()).deployment.resources ?? []) as { type: string; urn: string }[];

test("a read-only token fails the preview with the one message, and the token appears nowhere", async () => {
  vault.addToken(TOKEN, [{ "secret/data/paperless-mail-ingest/*": ["read"], "secret/metadata/paperless-mail-ingest/*": ["delete"] }]);
  const out = await failure(engine.stack.preview());
  expect(out).toContain(
    "Vault token may not write secret/data/paperless-mail-ingest/docs@viktorbarzin.me (it has: read); " +
    "grant create and update on that path in the token's policy, or change paperless-mail-ingest:vault.mount/pathPrefix");
  expect(out).not.toContain(TOKEN);
  // The preflight asked with the token from the stack's secret config.
  expect(vault.requests.at(-1)).toMatchObject({ path: "/v1/sys/capabilities-self", token: TOKEN });
  expect(await resourcesInState()).toEqual([]);
});

test("`pulumi up` (the Automation API skips its preview) stops at the same check: the resource waiting on it is not created", async () => {
  const out = await failure(engine.stack.up());
  expect(out).toContain("Vault token may not write secret/data/paperless-mail-ingest/docs@viktorbarzin.me (it has: read)");
  // Only the stack and the engine's own dynamic-provider instance exist: no resource of the program.
  expect((await resourcesInState()).filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/"))).toEqual([]);
});

test("once granted, preview and up pass; the state holds no token, and a second preview is a no-op", async () => {
  vault.addToken(TOKEN, [{ "secret/data/paperless-mail-ingest/*": ["create", "read", "update"], "secret/metadata/paperless-mail-ingest/*": ["delete"] }]);
  const up = await engine.stack.up();
  expect(up.summary.result).toBe("succeeded");
  // (The export shows secrets decrypted; the stack config, vault:token included, sits encrypted
  // in the engine's default provider entry, as for any stack: only the preflight's own is ours.)
  const state = await engine.stack.exportStack();
  const preflight = state.deployment.resources.find((r: { urn: string }) => r.urn.endsWith(`::${PREFLIGHT}`));
  expect(JSON.stringify(preflight)).not.toContain(TOKEN);
  expect(preflight.inputs).not.toHaveProperty("token");
  expect(preflight.outputs).not.toHaveProperty("token");
  expect(preflight.id).toBe(`secret/data/${NAME}`);
  const again = await engine.stack.preview();
  expect(again.changeSummary).toEqual({ same: 3 });
});

test("a revoked token fails the next preview as rejected, changing nothing", async () => {
  const revoked = new VaultEmulator();
  await vault.stop();
  vault = await revoked.start();
  await engine.stack.setConfig("vault:address", { value: vault.url });
  const before = JSON.stringify(await resourcesInState());
  const out = await failure(engine.stack.preview());
  expect(out).toContain(`Vault token rejected by ${vault.url} (HTTP 403: permission denied) for the token from vault:token`);
  expect(out).not.toContain(TOKEN);
  expect(JSON.stringify(await resourcesInState())).toBe(before);
});
