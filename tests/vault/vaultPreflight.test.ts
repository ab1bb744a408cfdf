// The Vault write preflight: its check() over real HTTP against a real Vault (dev mode), every
// failure as the one message a user sees at preview; where the connection comes from; and (mocks)
// that MailboxSecret's SecretV2 waits on it.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { MailboxSecret } from "../../components/mailboxSecret";
import { readVaultConnection, vaultProvider } from "../../stack/vaultConnection";
import type { HttpSettings } from "../../providers/http/settings";
import { capabilitiesSelf, readKvSecret, type VaultTarget } from "../../providers/vault/vaultClient";
import { vaultWritePreflightProvider, type VaultWritePreflightProps } from "../../providers/vault/vaultPreflight";
import { freePorts } from "../support/cluster/ports";
import { type Fault, startFaultProxy, type FaultProxy } from "../support/faultProxy";
import { startVault, type VaultDev } from "../support/cluster/vault";
import { prodConfig } from "../support/prodConfig";
import { isSecretValue, unwrapSecrets } from "../support/mockValues";
import { tokenWith, type VaultPolicy } from "./vaultTokens";

jest.setTimeout(60_000);

const config = prodConfig();
const mailbox = config.mailboxes[0]!;
const NAME = `${config.vault.pathPrefix}/${mailbox.address}`;
const DATA = `secret/data/${NAME}`;
const METADATA = `secret/metadata/${NAME}`;
const CHILD_TOKEN = "auth/token/create";

// The policy an operator would write for this program (README), and variations of it.
const WRITER: VaultPolicy = {
  "secret/data/paperless-mail-ingest/*": ["create", "read", "update"],
  "secret/metadata/paperless-mail-ingest/*": ["delete", "list", "read"],
  // The Vault provider works with a child token of the given one unless vault:skipChildToken is set.
  [CHILD_TOKEN]: ["update"],
};
const READER: VaultPolicy = { ...WRITER, "secret/data/paperless-mail-ingest/*": ["read"] };

let dir: string;
let vault: VaultDev;
const provider = vaultWritePreflightProvider({ timeoutMs: 300 });
const props = (over: Partial<VaultWritePreflightProps> = {}): VaultWritePreflightProps => ({
  address: vault.addr,
  addressSource: "vault:address",
  token: "",
  tokenSource: "VAULT_TOKEN",
  namespace: "",
  caCertFile: "",
  skipTlsVerify: false,
  mount: config.vault.mount,
  name: NAME,
  ...over,
});
const check = (p: VaultWritePreflightProps) => provider.check!(p, p);
async function reason(p: VaultWritePreflightProps): Promise<string> {
  const { failures } = await check(p);
  expect(failures).toHaveLength(1);
  return failures![0]!.reason;
}
const token = (...policies: VaultPolicy[]) => tokenWith(vault, policies);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "vault-preflight-"));
  vault = await startVault(dir);
});
afterAll(async () => {
  await vault?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("VaultWritePreflight.check: may the token write the mailbox password?", () => {
  it("passes for a token that may create, update and read the data path, delete the metadata path and create a child token", async () => {
    const t = await token(WRITER);
    const { failures, inputs } = await check(props({ token: t }));
    expect(failures).toEqual([]);
    // The token is not kept: not in the checked inputs, so in no state or output.
    expect(inputs).not.toHaveProperty("token");
    expect(JSON.stringify(inputs)).not.toContain(t);
  });

  it("passes for the root token and for a grant split over several policies", async () => {
    expect((await check(props({ token: vault.rootToken }))).failures).toEqual([]);
    const split = await token(
      { "secret/data/paperless-mail-ingest/*": ["create", "update"], [CHILD_TOKEN]: ["update"] },
      { "secret/data/paperless-mail-ingest/*": ["read"], "secret/metadata/+/docs@viktorbarzin.me": ["read", "delete"] },
    );
    expect((await check(props({ token: split }))).failures).toEqual([]);
  });

  it("fails a token that may not create a child token, naming auth/token/create and vault:skipChildToken", async () => {
    const { [CHILD_TOKEN]: _, ...noChild } = WRITER;
    const t = await token(noChild);
    expect(await reason(props({ token: t }))).toBe(
      "Vault token may not create child tokens (auth/token/create: it has: deny), which the Vault provider does first on every run; " +
        "grant update on auth/token/create in the token's policy, or set `pulumi config set vault:skipChildToken true`",
    );
    // With the provider told to use the token itself, nothing else is missing.
    expect((await check(props({ token: t, skipChildToken: true }))).failures).toEqual([]);
  });

  it("fails a read-only token, naming the path, what it has, what to grant and the config to change", async () => {
    expect(await reason(props({ token: await token(READER) }))).toBe(
      "Vault token may not write secret/data/paperless-mail-ingest/docs@viktorbarzin.me (it has: read); " +
        "grant create and update on that path in the token's policy, or change paperless-mail-ingest:vault.mount/pathPrefix",
    );
  });

  it("fails a token that may write but not read back, and one an explicit deny overrides", async () => {
    const t = await token({ ...WRITER, "secret/data/paperless-mail-ingest/*": ["create", "update"] });
    expect(await reason(props({ token: t }))).toBe(
      `Vault token may not read ${DATA} (it has: create, update); grant read on that path in the token's policy ` +
        "(the Vault provider reads the secret back after writing it), or change paperless-mail-ingest:vault.mount/pathPrefix",
    );
    const denied = await token(WRITER, { [DATA]: ["deny"] });
    expect(await reason(props({ token: denied }))).toBe(
      `Vault token may not write or read ${DATA} (it has: deny); grant create, update and read on that path in the token's policy ` +
        "(the Vault provider reads the secret back after writing it), or change paperless-mail-ingest:vault.mount/pathPrefix",
    );
  });

  it("fails a token that may write but not delete the metadata (destroy removes every version)", async () => {
    const t = await token({ ...WRITER, "secret/metadata/paperless-mail-ingest/*": ["list", "read"] });
    expect(await reason(props({ token: t }))).toBe(
      `Vault token may not delete ${METADATA} (it has: list, read); grant delete on that path in the token's policy ` +
        "(destroy removes every version there), or change paperless-mail-ingest:vault.mount/pathPrefix",
    );
  });

  it("asks for no read of the metadata (the Vault provider's generic secret reads only the data path)", async () => {
    const t = await token({ ...WRITER, "secret/metadata/paperless-mail-ingest/*": ["delete"] });
    expect((await provider.check!(props({ token: t }), props({ token: t }))).failures).toEqual([]);
  });

  it("reports what Vault decides where rules overlap (Vault's priority matching, not ours)", async () => {
    const t = await token({
      "secret/+/paperless-mail-ingest/docs@viktorbarzin.me": ["create", "delete", "read", "update"],
      "secret/metadata/*": ["list"],
      [CHILD_TOKEN]: ["update"],
    });
    expect(await reason(props({ token: t }))).toMatch(new RegExp(`^Vault token may not delete ${METADATA} \\(it has: list\\);`));
  });

  it("checks the mount and prefix of the stack config, not a fixed path", async () => {
    const { failures } = await check(props({ token: await token(WRITER), mount: "kv", name: `mail/${mailbox.address}` }));
    expect(failures![0]!.reason).toMatch(/^Vault token may not write or read kv\/data\/mail\/docs@viktorbarzin\.me \(it has: deny\)/);
    expect(failures![0]!.reason).toContain("\nVault token may not delete kv/metadata/mail/docs@viktorbarzin.me (it has: deny)");
  });

  it("fails a token Vault rejects (403), naming where it came from and how to get a valid one", async () => {
    const t = await token(WRITER);
    await vault.api("POST", "auth/token/revoke", { token: t });
    expect(await reason(props({ token: t }))).toBe(
      `Vault token rejected by ${vault.addr} (HTTP 403: permission denied; invalid token) for the token from VAULT_TOKEN: ` +
        "it is expired, revoked, or not valid in this Vault; log in again (`vault login`) and set the new token with " +
        "`pulumi config set --secret vault:token <token>` or VAULT_TOKEN",
    );
  });

  it("fails an unreachable Vault, naming the address, where it was set and the fix", async () => {
    const [port] = await freePorts(1);
    const closed = `http://127.0.0.1:${port}`;
    expect(await reason(props({ address: closed, token: vault.rootToken }))).toBe(
      `Vault at ${closed} (from vault:address) is unreachable: connect ECONNREFUSED 127.0.0.1:${port}; ` +
        "check vault:address (`pulumi config set vault:address https://<vault-host>:8200` or VAULT_ADDR) and that Vault is up and reachable from here",
    );
  });

  it("fails a sealed Vault, naming the fix", async () => {
    const sealed = await startVault(join(dir, "sealed"));
    try {
      expect((await sealed.api("PUT", "sys/seal")).status).toBe(204);
      expect(await reason(props({ address: sealed.addr, token: sealed.rootToken }))).toBe(
        `Vault at ${sealed.addr} answered HTTP 503: Vault is sealed: it is sealed or has no active node; unseal it (\`vault operator unseal\`) and preview again`,
      );
    } finally {
      await sealed.stop();
    }
  });

  it("fails an address that is not Vault's origin (a path after it), before asking anything", async () => {
    expect(await reason(props({ address: `${vault.addr}/ui`, token: vault.rootToken }))).toBe(
      `Vault address "${vault.addr}/ui" (from vault:address) is not an http(s) origin URL; set it to e.g. https://vault.example.org:8200 ` +
        "(`pulumi config set vault:address https://<vault-host>:8200` or VAULT_ADDR)",
    );
  });

  it("fails when no address is configured, naming both ways to set it", async () => {
    expect(await reason(props({ address: "", addressSource: "", token: vault.rootToken }))).toBe(
      "Vault address not set: run `pulumi config set vault:address https://<vault-host>:8200` or export VAULT_ADDR (the Vault provider reads the same two)",
    );
  });

  it("fails when no token is configured, naming the three places the provider looks", async () => {
    expect(await reason(props({ token: "", tokenSource: "" }))).toBe(
      "Vault token not set: run `pulumi config set --secret vault:token <token>`, export VAULT_TOKEN, or `vault login` (which writes ~/.vault-token)",
    );
  });

  it("never puts the token in a message, even when it was pasted into the address", async () => {
    const rejected = await token(WRITER);
    await vault.api("POST", "auth/token/revoke", { token: rejected });
    const readOnly = await token(READER);
    const reasons: string[] = [];
    const collect = async (p: VaultWritePreflightProps) => reasons.push(...((await check(p)).failures ?? []).map((f) => f.reason));
    await collect(props({ token: rejected }));
    await collect(props({ token: readOnly }));
    await collect(props({ token: readOnly, address: `http://${readOnly}@127.0.0.1:1` })); // unreachable, token in the URL
    expect(reasons).toHaveLength(3);
    expect(reasons[2]).toContain("Vault at http://[secret]@127.0.0.1:1 (from vault:address) is unreachable");
    for (const r of reasons) {
      expect(r).not.toContain(rejected);
      expect(r).not.toContain(readOnly);
    }
  });

  it("diff ignores the token (a new `vault login` is no change) but not the path checked nor skipChildToken", async () => {
    const d = provider.diff!;
    expect((await d("id", props(), props({ token: "hvs.rotated-token-value" }))).changes).toBe(false);
    expect((await d("id", props(), props({ name: "paperless-mail-ingest/receipts@viktorbarzin.me" }))).changes).toBe(true);
    expect((await d("id", props(), props({ skipChildToken: true }))).changes).toBe(true);
    const created = await provider.create(props({ token: vault.rootToken }));
    expect(created.id).toBe(DATA);
    expect(created.outs).not.toHaveProperty("token");
  });
});

describe("what the preflight sends, seen by a fault proxy in front of Vault", () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await startFaultProxy(vault.addr);
  });
  afterAll(() => proxy.close());
  beforeEach(() => proxy.reset());
  const viaProxy = (over: Partial<VaultWritePreflightProps> = {}) => props({ address: proxy.url, token: vault.rootToken, ...over });

  it("asks one documented question: capabilities-self for exactly the paths the Vault provider will use, with the token", async () => {
    expect((await check(viaProxy())).failures).toEqual([]);
    expect(proxy.requests).toEqual([
      expect.objectContaining({ method: "POST", path: "/v1/sys/capabilities-self", body: { paths: [DATA, METADATA, CHILD_TOKEN] } }),
    ]);
    expect(proxy.requests[0]!.headers["x-vault-token"]).toBe(vault.rootToken);
    proxy.reset();
    expect((await check(viaProxy({ skipChildToken: true }))).failures).toEqual([]);
    expect(proxy.requests[0]!.body).toEqual({ paths: [DATA, METADATA] });
  });

  it("sends the Vault Enterprise namespace it is given (the dev server, open source, ignores it)", async () => {
    await check(viaProxy({ namespace: "team-a" }));
    expect(proxy.requests[0]!.headers["x-vault-namespace"]).toBe("team-a");
    proxy.reset();
    await check(viaProxy());
    expect(proxy.requests[0]!.headers).not.toHaveProperty("x-vault-namespace");
  });

  it("fails a Vault that does not answer within the timeout, naming where the address came from", async () => {
    proxy.inject({ kind: "hang" });
    const started = Date.now();
    expect(await reason(viaProxy({ addressSource: "VAULT_ADDR" }))).toBe(
      `Vault at ${proxy.url} (from VAULT_ADDR) did not answer within 0.3 s; ` +
        "check VAULT_ADDR (`pulumi config set vault:address https://<vault-host>:8200` or VAULT_ADDR) and that Vault is up and reachable from here",
    );
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("asks nothing when the address or the token is missing, or the address is not an origin", async () => {
    await check(viaProxy({ address: "", addressSource: "" }));
    await check(viaProxy({ token: "", tokenSource: "" }));
    await check(viaProxy({ address: `${proxy.url}/ui` }));
    expect(proxy.requests).toEqual([]);
  });
});

describe("the Vault client through a fault proxy: retries, deadlines, no token in any answer", () => {
  const SECRET = "paperless-mail-ingest/client-test@viktorbarzin.me";
  const HTTP: HttpSettings = { timeoutMs: 300, retries: 2, backoffMs: 1, maxBackoffMs: 1500 };
  /** Timers and Date.now() count whole milliseconds: a pause of n ms can show as n - 1 between two arrivals. */
  const MS = 2;
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await startFaultProxy(vault.addr);
    expect((await vault.api("POST", `secret/data/${SECRET}`, { data: { password: "pw" } })).status).toBe(200);
  });
  afterAll(() => proxy.close());
  beforeEach(() => proxy.reset());
  const target = (over: Partial<VaultTarget> = {}): VaultTarget => ({
    address: proxy.url,
    token: vault.rootToken,
    namespace: "",
    caCertFile: "",
    skipTlsVerify: false,
    ...over,
  });

  it("asks a GET answered 503 again after the Retry-After the answer gave", async () => {
    proxy.inject({ kind: "status", status: 503, retryAfter: 1, method: "GET" });
    expect(await readKvSecret(target(), "secret", SECRET, HTTP)).toEqual({ kind: "ok", data: { password: "pw" } });
    expect(proxy.requests.map((r) => r.fault)).toEqual(["status", undefined]);
    expect(proxy.requests[1]!.at - proxy.requests[0]!.at).toBeGreaterThanOrEqual(1000 - MS);
  });

  it("never asks a POST again: not after a 503, a timeout or a dropped connection", async () => {
    const faults: Fault[] = [{ kind: "status", status: 503, retryAfter: 0 }, { kind: "hang" }, { kind: "reset" }];
    const answers = [];
    for (const fault of faults) {
      proxy.inject(fault);
      answers.push((await capabilitiesSelf(target(), [DATA], HTTP)).kind);
    }
    expect(answers).toEqual(["http", "timeout", "unreachable"]);
    expect(proxy.count("POST")).toBe(3);
  });

  it("names the method, the path and the deadline of a request that does not answer in time", async () => {
    proxy.inject({ kind: "hang", times: 3 });
    expect(await readKvSecret(target(), "secret", SECRET, HTTP)).toEqual({
      kind: "timeout",
      ms: 300,
      message: `GET /v1/secret/data/${SECRET} → no response: timed out after 300 ms`,
    });
    expect(proxy.count("GET")).toBe(3);
  });

  it("puts the token in no answer, even where Vault (or a proxy) echoes it back or it was pasted into the address", async () => {
    const token = vault.rootToken;
    proxy.inject({
      kind: "status",
      status: 400,
      method: "GET",
      answerBody: JSON.stringify({ errors: [`token ${token} is not valid here`] }),
    });
    expect(await readKvSecret(target(), "secret", SECRET, HTTP)).toEqual({
      kind: "http",
      status: 400,
      errors: ["token [secret] is not valid here"],
    });
    proxy.inject({ kind: "status", status: 502, times: 3, answerBody: `<html>bad gateway; you sent X-Vault-Token: ${token}</html>` });
    const [port] = await freePorts(1);
    const answers = [
      await readKvSecret(target(), "secret", SECRET, HTTP),
      await readKvSecret(target({ address: `http://${token}@127.0.0.1:${port}` }), "secret", SECRET, HTTP),
      await capabilitiesSelf(target({ address: `http://${token}@127.0.0.1:${port}` }), [DATA], HTTP),
    ];
    expect(answers.map((a) => a.kind)).toEqual(["http", "unreachable", "unreachable"]);
    expect(JSON.stringify(answers)).not.toContain(token);
  });
});

describe("readVaultConnection: the Vault provider's own sources, in its order", () => {
  const home = mkdtempSync(join(tmpdir(), "vault-home-"));
  writeFileSync(join(home, ".vault-token"), "hvs.from-the-token-file\n");
  const value = <T>(o: pulumi.Output<T>): Promise<T> => new Promise((resolve) => o.apply(resolve));
  afterEach(() => pulumi.runtime.setAllConfig({}));

  it("prefers the stack's vault:* config, keeping the token secret", async () => {
    pulumi.runtime.setAllConfig(
      { "vault:address": "https://vault.example.org:8200/", "vault:token": "hvs.from-config", "vault:namespace": "team-a" },
      ["vault:token"],
    );
    const c = readVaultConnection({ VAULT_ADDR: "http://env:8200", VAULT_TOKEN: "hvs.from-env", VAULT_NAMESPACE: "env-ns" }, home);
    expect(c).toMatchObject({
      address: "https://vault.example.org:8200",
      addressSource: "vault:address",
      tokenSource: "vault:token",
      namespace: "team-a",
    });
    expect(await value(c.token)).toBe("hvs.from-config");
    expect(await pulumi.isSecret(c.token)).toBe(true);
  });

  it("falls back to VAULT_ADDR / VAULT_TOKEN / VAULT_NAMESPACE / VAULT_CACERT / VAULT_SKIP_VERIFY", async () => {
    const c = readVaultConnection(
      {
        VAULT_ADDR: "http://vault.internal:8200",
        VAULT_TOKEN: "hvs.from-env",
        VAULT_NAMESPACE: "env-ns",
        VAULT_CACERT: "/etc/vault/ca.pem",
        VAULT_SKIP_VERIFY: "true",
      },
      home,
    );
    expect(c).toMatchObject({
      address: "http://vault.internal:8200",
      addressSource: "VAULT_ADDR",
      tokenSource: "VAULT_TOKEN",
      namespace: "env-ns",
      caCertFile: "/etc/vault/ca.pem",
      skipTlsVerify: true,
    });
    expect(await value(c.token)).toBe("hvs.from-env");
    expect(await pulumi.isSecret(c.token)).toBe(true);
  });

  it("then to ~/.vault-token (what `vault login` writes); nothing set leaves both empty", async () => {
    const fromFile = readVaultConnection({}, home);
    expect(fromFile).toMatchObject({ address: "", addressSource: "", tokenSource: "~/.vault-token" });
    expect(await value(fromFile.token)).toBe("hvs.from-the-token-file");
    expect(await pulumi.isSecret(fromFile.token)).toBe(true);
    const nothing = readVaultConnection({}, mkdtempSync(join(tmpdir(), "vault-empty-home-")));
    expect(nothing).toMatchObject({ address: "", tokenSource: "", skipTlsVerify: false });
    expect(await value(nothing.token)).toBe("");
  });
});

describe("MailboxSecret under mocks: the secret waits on the preflight", () => {
  const PREFLIGHT = "pulumi-nodejs:dynamic/vault:VaultWritePreflight";
  const MOCK_TOKEN = "hvs.CAESIJ9preflight-test-token-0123456789";

  it("creates the preflight as its child, for the secret's own mount and path, with the token secret; the secret on the Vault provider it is given", async () => {
    const inputs = new Map<string, any>();
    const options = new Map<string, pulumi.ResourceTransformationArgs>();
    let provider: ReturnType<typeof vaultProvider> | undefined;
    await pulumi.runtime.setMocks(
      {
        newResource: async (a) => {
          inputs.set(a.type, a.inputs);
          return { id: `${a.name}-id`, state: a.inputs };
        },
        call: async () => ({}),
      },
      "paperless-mail-ingest",
      "prod",
      false,
    );
    pulumi.runtime.setAllConfig({ "vault:address": "https://vault.example.org:8200", "vault:token": MOCK_TOKEN }, ["vault:token"]);
    try {
      provider = vaultProvider("vault");
      const secret = new MailboxSecret(
        "docs",
        { mailbox, vault: config.vault, password: "p", connection: readVaultConnection(), provider },
        {
          transformations: [
            (a) => {
              options.set(a.type, a);
              return undefined;
            },
          ],
        },
      );
      await new Promise((resolve) => secret.password.apply(resolve));
    } finally {
      pulumi.runtime.setAllConfig({});
    }
    const preflight = options.get(PREFLIGHT)!;
    const kv = options.get("vault:generic/secret:Secret")!;
    expect(kv.opts.dependsOn).toEqual([preflight.resource]);
    expect(kv.opts.provider).toBe(provider);
    expect(preflight.name).toBe("docs-vault-preflight");
    expect(preflight.opts.parent).toBe(options.get("paperless-mail-ingest:vault:MailboxSecret")!.resource);
    expect((preflight.opts as pulumi.CustomResourceOptions).additionalSecretOutputs).toContain("token");

    const sent = inputs.get(PREFLIGHT);
    expect(isSecretValue(sent.token)).toBe(true);
    expect(unwrapSecrets(sent.token)).toBe(MOCK_TOKEN);
    expect(sent).toMatchObject({ address: "https://vault.example.org:8200", addressSource: "vault:address", tokenSource: "vault:token" });
    expect(`${sent.mount}/${sent.name}`).toBe(inputs.get("vault:generic/secret:Secret").path);
  });
});
