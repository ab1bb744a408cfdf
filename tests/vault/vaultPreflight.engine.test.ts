// The Vault write preflight and the real Vault provider through the real Pulumi engine, against a
// real Vault (dev mode): `vault:*` comes from the stack config, the preflight's provider runs in
// the engine's dynamic-provider plugin, the generic.Secret in pulumi-resource-vault. A token that may not
// do what the provider will do fails the preview with the one message, before anything exists;
// what the provider really needs is shown by the provider itself.
import { readFileSync, rmSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import * as pulumi from "@pulumi/pulumi";
import * as vault from "@pulumi/vault";
import type { PulumiFn } from "@pulumi/pulumi/automation";
import { readVaultConnection, vaultProvider } from "../../stack/vaultConnection";
import { MailboxSecret } from "../../components/mailboxSecret";
import { startVault, type VaultDev } from "../support/cluster/vault";
import { engineStack, type EngineStack } from "../e2e/engine";
import { PROD_STACK_FILE, prodConfig } from "../support/prodConfig";
import { tokenWith, type VaultPolicy } from "./vaultTokens";

jest.setTimeout(300_000);

const config = prodConfig();
const NAME = `${config.vault.pathPrefix}/${config.mailboxes[0]!.address}`;
const PREFLIGHT = "docs-at-viktorbarzin.me-vault-preflight";

// What the README tells an operator to grant; the tests take parts away.
const README_POLICY: VaultPolicy = {
  "secret/data/paperless-mail-ingest/*": ["create", "read", "update"],
  "secret/metadata/paperless-mail-ingest/*": ["delete"],
  "auth/token/create": ["update"],
};

/** The program's own component and Vault provider: the preflight, and the secret that waits on it. */
const withPreflight: PulumiFn = async () => {
  new MailboxSecret("docs-at-viktorbarzin.me", {
    mailbox: config.mailboxes[0]!,
    vault: config.vault,
    password: "engine-test-password",
    connection: readVaultConnection({}, "/nonexistent"),
    provider: vaultProvider("vault"),
  });
};

let dir: string;
let server: VaultDev;
let engine: EngineStack;

async function useToken(policy: VaultPolicy): Promise<string> {
  const token = await tokenWith(server, [policy]);
  await engine.stack.setConfig("vault:token", { value: token, secret: true });
  return token;
}

/** The engine's output of a failed operation (the Automation API throws it). */
async function failure(op: Promise<unknown>): Promise<string> {
  try {
    await op;
  } catch (e) {
    return String((e as Error).message);
  }
  throw new Error("expected the operation to fail");
}

const resourcesInState = async () => ((await engine.stack.exportStack()).deployment.resources ?? []) as { type: string; urn: string }[];
const secretInVault = async () => (await server.api("GET", `secret/data/${NAME}`)).status === 200;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "vault-engine-"));
  server = await startVault(dir);
  engine = await engineStack("vault-preflight", withPreflight);
  // The CLI requires the project's declared config keys before any program runs: the prod stack's.
  const prod = (parseYaml(readFileSync(PROD_STACK_FILE, "utf8")) as { config: Record<string, unknown> }).config;
  await engine.stack.workspace.saveStackSettings(engine.stack.name, { config: prod });
  await engine.stack.setConfig("vault:address", { value: server.addr });
});

afterAll(async () => {
  engine?.dispose();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("a read-only token fails the preview with the one message, and the token appears nowhere", async () => {
  const token = await useToken({ ...README_POLICY, "secret/data/paperless-mail-ingest/*": ["read"] });
  const out = await failure(engine.stack.preview());
  expect(out).toContain(
    "Vault token may not write secret/data/paperless-mail-ingest/docs@viktorbarzin.me (it has: read); " +
      "grant create and update on that path in the token's policy, or change paperless-mail-ingest:vault.mount/pathPrefix",
  );
  expect(out).not.toContain(token);
  expect(await resourcesInState()).toEqual([]);
});

test("`pulumi up` (the Automation API skips its preview) stops at the same check: the secret is not written", async () => {
  const out = await failure(engine.stack.up());
  expect(out).toContain("Vault token may not write secret/data/paperless-mail-ingest/docs@viktorbarzin.me (it has: read)");
  // Components (no server object) may be registered; no custom resource is.
  expect(
    (await resourcesInState()).filter(
      (r) => r.type !== "pulumi:pulumi:Stack" && !r.type.startsWith("pulumi:providers:") && !r.type.startsWith("paperless-mail-ingest:"),
    ),
  ).toEqual([]);
  expect(await secretInVault()).toBe(false);
});

test("the Vault provider creates a child token first: a token that may write but not do that is stopped at preview, naming auth/token/create", async () => {
  const { "auth/token/create": _, ...noChild } = README_POLICY;
  await useToken(noChild);
  expect(await failure(engine.stack.preview())).toContain(
    "Vault token may not create child tokens (auth/token/create: it has: deny), which the Vault provider does first on every run; " +
      "grant update on auth/token/create in the token's policy, or set `pulumi config set vault:skipChildToken true`",
  );
  // The provider itself, asked without the preflight, fails on exactly that.
  const bare = await engineStack("vault-provider-alone", async () => {
    new vault.generic.Secret("docs", { path: `${config.vault.mount}/${NAME}`, dataJson: pulumi.secret("{}") });
  });
  try {
    const prod = (parseYaml(readFileSync(PROD_STACK_FILE, "utf8")) as { config: Record<string, unknown> }).config;
    await bare.stack.workspace.saveStackSettings(bare.stack.name, { config: prod });
    await bare.stack.setConfig("vault:address", { value: server.addr });
    await bare.stack.setConfig("vault:token", await engine.stack.getConfig("vault:token"));
    expect(await failure(bare.stack.up())).toMatch(/failed to create limited child token: .*permission denied/s);
  } finally {
    bare.dispose();
  }
  // Told to use the token itself, the provider needs nothing more, and the preflight agrees.
  await engine.stack.setConfig("vault:skipChildToken", { value: "true" });
  try {
    expect((await engine.stack.up()).summary.result).toBe("succeeded");
    expect(await secretInVault()).toBe(true);
    expect((await engine.stack.destroy()).summary.result).toBe("succeeded");
  } finally {
    await engine.stack.removeConfig("vault:skipChildToken");
  }
});

test("the Vault provider needs no read of the metadata: a token that may only delete there passes preview, up, refresh and destroy", async () => {
  await useToken(README_POLICY); // README_POLICY: delete only on the metadata path
  expect((await engine.stack.preview()).changeSummary).toMatchObject({ create: 5 }); // stack, Vault provider, component, preflight, secret
  expect((await engine.stack.up()).summary.result).toBe("succeeded");
  expect((await engine.stack.refresh()).summary.result).toBe("succeeded");
  expect((await engine.stack.destroy()).summary.result).toBe("succeeded");
  expect(await secretInVault()).toBe(false);
});

test("with the README's policy, preview and up pass; the state holds no token; a second preview is a no-op; destroy removes every version", async () => {
  const token = await useToken(README_POLICY);
  const up = await engine.stack.up();
  expect(up.summary.result).toBe("succeeded");
  expect((await server.api("GET", `secret/data/${NAME}`)).json.data.data).toEqual({
    username: "docs@viktorbarzin.me",
    password: "engine-test-password",
  });
  const state = await engine.stack.exportStack();
  const preflight = state.deployment.resources.find((r: { urn: string }) => r.urn.endsWith(`::${PREFLIGHT}`));
  expect(JSON.stringify(preflight)).not.toContain(token);
  expect(preflight.inputs).not.toHaveProperty("token");
  expect(preflight.id).toBe(`secret/data/${NAME}`);
  expect((await engine.stack.preview()).changeSummary).toEqual({ same: 5 });
  expect((await engine.stack.refresh()).summary.result).toBe("succeeded");
  expect((await engine.stack.destroy()).summary.result).toBe("succeeded");
  expect((await server.api("GET", `secret/metadata/${NAME}`)).status).toBe(404);
});

test("a revoked token fails the next preview as rejected, changing nothing", async () => {
  const token = await useToken(README_POLICY);
  expect((await engine.stack.up()).summary.result).toBe("succeeded");
  await server.api("POST", "auth/token/revoke", { token });
  const before = JSON.stringify(await resourcesInState());
  const out = await failure(engine.stack.preview());
  expect(out).toContain(
    `Vault token rejected by ${server.addr} (HTTP 403: permission denied; invalid token) for the token from vault:token`,
  );
  expect(out).not.toContain(token);
  expect(JSON.stringify(await resourcesInState())).toBe(before);
});
