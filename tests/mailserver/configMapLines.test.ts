// ConfigMapLines and its Kubernetes client against a real kube-apiserver: our marker block in a
// key of the shared ConfigMap that a Terraform-like manager owns, every other line kept byte for
// byte, resourceVersion-conditional writes that survive a concurrent writer.
import { execFileSync } from "node:child_process";
import { createServer, Socket } from "node:net";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { markers } from "../../core/ownedLines";
import { ConfigMapLinesProps, configMapLinesProvider } from "../../providers/kubernetes/configMapLines";
import { CLIENT_NODE_BUNDLE, CLIENT_NODE_NAMES } from "../../providers/kubernetes/kubeApi";
import { editConfigMapKey, getConfigMap, KubeConnection } from "../../providers/kubernetes/kubeClient";
import { BUILD } from "../../providers/dynamic/load";
import { forgetProcessMemory } from "../../providers/processMemory";
import { binary } from "../support/cluster/binaries";
import { adminRequest, serviceAccountKubeconfig, startKubeApi, type KubeApi } from "../support/cluster/kubeApi";
import { startFaultProxy, type FaultProxy } from "../support/faultProxy";
import { TERRAFORM_MANAGER } from "../support/cluster/productionObjects";
import { callInPlugin } from "./pluginProvider";

jest.setTimeout(60_000);

const CM = "mailserver.config";
const OTHERS = "admin@viktorbarzin.me|{SHA512-CRYPT}$6$abc$def\n# kept comment\r\n\nspam@viktorbarzin.me|$2a$06$xyz";
const LINE = "docs@viktorbarzin.me|{SHA512-CRYPT}$6$salt$hash";
const BLOCK = `${markers("docs@viktorbarzin.me").begin}\n${LINE}\n${markers("docs@viktorbarzin.me").end}\n`;

let dir: string;
let api: KubeApi;
let conn: KubeConnection;
let provider: pulumi.dynamic.ResourceProvider;
/** In front of the API server: counts our requests, drops connections and answers 5xx on demand. */
let proxy: FaultProxy;
let viaProxy: pulumi.dynamic.ResourceProvider;
let NS: string;
let namespaces = 0;

const DEFAULT_CLUSTER = { kubeconfigPath: "", kubeconfigText: "", context: "" };
const props = (over: Partial<ConfigMapLinesProps> = {}): ConfigMapLinesProps => ({
  namespace: NS,
  name: CM,
  key: "postfix-accounts.cf",
  owner: "docs@viktorbarzin.me",
  format: "accounts",
  keys: ["docs@viktorbarzin.me"],
  lines: [LINE],
  cluster: DEFAULT_CLUSTER,
  ...over,
});

const cmPath = (ns: string, name = CM) => `/api/v1/namespaces/${ns}/configmaps/${encodeURIComponent(name)}`;
/** The ConfigMap as the API server holds it. */
async function live(ns = NS, name = CM): Promise<any> {
  const { status, json } = await adminRequest(api, "GET", cmPath(ns, name));
  return status === 200 ? json : undefined;
}
/** The Terraform stack edits one key, synchronously (so it lands between our GET and our PUT when called from an edit). */
function terraformEditsNow(key: string, value: string): void {
  execFileSync(
    binary("kubectl"),
    [
      "--kubeconfig",
      api.kubeconfig,
      "-n",
      NS,
      "patch",
      "configmap",
      CM,
      `--field-manager=${TERRAFORM_MANAGER}`,
      "--type=merge",
      "-p",
      JSON.stringify({ data: { [key]: value } }),
    ],
    { stdio: "pipe" },
  );
}
/** The Terraform stack edits one key (a merge patch: its own write, not conditional on ours). */
async function terraformWritesKey(key: string, value: string): Promise<void> {
  const res = await adminRequest(
    api,
    "PATCH",
    `${cmPath(NS)}?fieldManager=${TERRAFORM_MANAGER}`,
    { data: { [key]: value } },
    "application/merge-patch+json",
  );
  if (res.status !== 200) throw new Error(`Terraform's edit: ${res.body}`);
}
/** Another client (the Terraform stack) writes the data, unconditionally. */
async function terraformWrites(data: Record<string, string>, ns = NS): Promise<void> {
  const current = await live(ns);
  const body = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: CM, namespace: ns }, data };
  const res = current
    ? await adminRequest(api, "PUT", `${cmPath(ns)}?fieldManager=${TERRAFORM_MANAGER}`, body)
    : await adminRequest(api, "POST", `/api/v1/namespaces/${ns}/configmaps?fieldManager=${TERRAFORM_MANAGER}`, body);
  if (res.status !== 200 && res.status !== 201) throw new Error(`Terraform's write: ${res.body}`);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "configmap-lines-"));
  api = await startKubeApi(dir, { controllerManager: false });
  conn = { server: api.server, options: { ca: readFileSync(api.caFile), headers: { authorization: `Bearer ${api.token}` } } };
  proxy = await startFaultProxy(api.server, { ca: readFileSync(api.caFile) });
  const proxied: KubeConnection = { server: proxy.url, options: { headers: { authorization: `Bearer ${api.token}` } } };
  viaProxy = configMapLinesProvider(async () => proxied);
});
afterAll(async () => {
  await proxy?.close();
  await api?.stop();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  forgetProcessMemory(); // each test is a new operation (a new plugin process)
  NS = `mailserver-${++namespaces}`;
  await adminRequest(api, "POST", "/api/v1/namespaces", { metadata: { name: NS } });
  await terraformWrites({ "postfix-accounts.cf": OTHERS, "dovecot.cf": "x = y\n" });
  provider = configMapLinesProvider(async () => conn);
  proxy.reset();
});
const puts = () => proxy.count("PUT");

describe("ConfigMapLines provider against the API server", () => {
  it("create inserts our block, keeps the other lines byte for byte and ends with LF", async () => {
    const { id } = await provider.create(props());
    expect(id).toBe(`${NS}/mailserver.config/postfix-accounts.cf/docs@viktorbarzin.me`);
    const cm = await live();
    expect(cm.data["postfix-accounts.cf"]).toBe(OTHERS + "\n" + BLOCK);
    expect(cm.data["dovecot.cf"]).toBe("x = y\n");
    // Our write is recorded under our manager; Terraform keeps its record of the keys it wrote.
    const managers = cm.metadata.managedFields.map((m: any) => [m.manager, m.operation]);
    expect(managers).toEqual(
      expect.arrayContaining([
        [TERRAFORM_MANAGER, "Update"],
        ["paperless-mail-ingest", "Update"],
      ]),
    );
  });

  it("re-applying the same lines writes nothing", async () => {
    await provider.create(props());
    const version = (await live()).metadata.resourceVersion;
    await provider.update!("id", props(), props());
    expect((await live()).metadata.resourceVersion).toBe(version);
  });

  it("update replaces the block in place; delete restores the original lines", async () => {
    await provider.create(props());
    const data = (await live()).data;
    await terraformWrites({ ...data, "postfix-accounts.cf": data["postfix-accounts.cf"] + "late@x.de|h\n" });
    await provider.update!("id", props(), props({ lines: ["docs@viktorbarzin.me|new"] }));
    expect((await live()).data["postfix-accounts.cf"]).toBe(
      OTHERS + "\n" + BLOCK.replace(LINE, "docs@viktorbarzin.me|new") + "late@x.de|h\n",
    );
    await provider.delete!("id", props({ lines: ["docs@viktorbarzin.me|new"] }));
    expect((await live()).data).toEqual({ "postfix-accounts.cf": OTHERS + "\nlate@x.de|h\n", "dovecot.cf": "x = y\n" });
  });

  it("a write by another client between our read and our write is kept: 409, re-read, re-apply", async () => {
    let edits = 0;
    const result = await editConfigMapKey(
      conn,
      NS,
      CM,
      "postfix-accounts.cf",
      (text) => {
        // Between our GET and our PUT, the first time only: Terraform adds a line.
        if (edits++ === 0) terraformEditsNow("postfix-accounts.cf", text + "\nnew@viktorbarzin.me|h\n");
        return text + "\nours@viktorbarzin.me|h\n";
      },
      { backoffMs: 1 },
    );
    expect(result).toBe("changed");
    expect(edits).toBe(2);
    expect((await live()).data["postfix-accounts.cf"]).toBe(OTHERS + "\nnew@viktorbarzin.me|h\n" + "\nours@viktorbarzin.me|h\n");
  });

  it("gives up with an error naming the ConfigMap and quoting the API server when every write conflicts", async () => {
    let edits = 0;
    await expect(
      editConfigMapKey(
        conn,
        NS,
        CM,
        "dovecot.cf",
        (text) => {
          terraformEditsNow("postfix-main.cf", `# Terraform's edit ${++edits}\n`);
          return text + "x\n";
        },
        { attempts: 3, backoffMs: 1 },
      ),
    ).rejects.toThrow(
      new RegExp(
        `ConfigMap ${NS}/mailserver.config: still conflicting after 3 attempts .*HTTP 409 Conflict: ` +
          `Operation cannot be fulfilled on configmaps "mailserver.config": the object has been modified`,
      ),
    );
    expect(edits).toBe(3);
  });

  // Every mailbox adds an account and an alias writer to the same ConfigMap, all run in parallel
  // by the engine in one provider process.
  const writers = (n: number) =>
    Array.from({ length: n }, (_, i) => `box${i}@viktorbarzin.me`).flatMap((a) => [
      props({ owner: a, keys: [a], lines: [`${a}|{SHA512-CRYPT}$6$s$h`] }),
      props({ owner: a, keys: [a], key: "postfix-virtual.cf", format: "virtual", lines: [`${a} ${a}`] }),
    ]);

  it("many parallel writers of this process all land, one after another, without a single conflict", async () => {
    const all = writers(8);
    await Promise.all(all.map((p) => viaProxy.create(p)));
    const data = (await live()).data;
    for (const p of all) {
      expect(data[p.key]).toContain(`${markers(p.owner).begin}\n${p.lines[0]}\n${markers(p.owner).end}\n`);
    }
    expect(data["postfix-accounts.cf"].startsWith(OTHERS + "\n")).toBe(true);
    expect(puts()).toBe(all.length); // no 409: each read the version the one before wrote
  });

  it("parallel writers of this process still retry around another client's writes", async () => {
    let external = 0;
    // Just before three of our writes, Terraform writes another key: each of those PUTs meets a real 409.
    proxy.inject({
      kind: "pass",
      method: "PUT",
      times: 3,
      before: () => terraformWritesKey("dovecot.cf", `x = y\nexternal${++external}\n`),
    });
    const all = writers(3);
    await Promise.all(all.map((p) => viaProxy.create(p)));
    const data = (await live()).data;
    for (const p of all) expect(data[p.key]).toContain(`\n${p.lines[0]}\n`);
    expect(data["dovecot.cf"]).toBe("x = y\nexternal3\n");
    expect(puts()).toBe(all.length + 3); // each external write cost exactly one retry
  });

  it("retries a read whose connection dropped, or that the server answered 5xx or 429, with backoff", async () => {
    proxy.inject({ kind: "reset", method: "GET" });
    proxy.inject({ kind: "status", status: 503, method: "GET" });
    proxy.inject({ kind: "status", status: 429, retryAfter: 1, method: "GET" });
    expect((await viaProxy.read!("id", props())).props!.lines).toEqual([]);
    expect(proxy.count("GET")).toBe(4);
  });

  it("a write whose answer was lost after it landed is not made twice: the re-read shows it, and that is all", async () => {
    proxy.inject({ kind: "reset", method: "PUT", landed: true });
    await viaProxy.create(props());
    expect((await live()).data["postfix-accounts.cf"]).toBe(OTHERS + "\n" + BLOCK);
    expect(puts()).toBe(1);
    proxy.reset();
    proxy.inject({ kind: "status", status: 500, method: "PUT" });
    await viaProxy.update!("id", props(), props({ lines: ["docs@viktorbarzin.me|new"] }));
    expect((await live()).data["postfix-accounts.cf"]).toBe(OTHERS + "\n" + BLOCK.replace(LINE, "docs@viktorbarzin.me|new"));
    expect(puts()).toBe(2);
  });

  it("gives up on a server that keeps dropping the connection, saying how often it tried", async () => {
    proxy.inject({ kind: "reset", method: "GET", times: 100 });
    await expect(viaProxy.read!("id", props())).rejects.toThrow(
      /GET http:\/\/127\.0\.0\.1:\d+\/api\/v1\/namespaces\/.*: socket hang up \(gave up after 4 attempts\)/,
    );
    expect(proxy.count("GET")).toBe(4);
  });

  it("refuses to add a second definition of our address, naming the other manager and writing nothing", async () => {
    await terraformWrites({ "postfix-accounts.cf": "docs@viktorbarzin.me|$2a$06$terraform\n" });
    const version = (await live()).metadata.resourceVersion;
    await expect(provider.create(props())).rejects.toThrow(
      /key postfix-accounts.cf already defines docs@viktorbarzin.me \(line 1\) outside the block of docs@viktorbarzin.me \(the key is managed by "Terraform"\)/,
    );
    expect((await live()).metadata.resourceVersion).toBe(version);
  });

  it("delete of an already removed block or ConfigMap succeeds without writing", async () => {
    const version = (await live()).metadata.resourceVersion;
    await provider.delete!("id", props());
    expect((await live()).metadata.resourceVersion).toBe(version);
    await provider.delete!("id", props({ namespace: "no-such-namespace" }));
  });

  it("read reports the block as it really is (refresh)", async () => {
    await provider.create(props());
    expect((await provider.read!("id", props({ lines: ["stale"] }))).props!.lines).toEqual([LINE]);
    await terraformWrites({ "postfix-accounts.cf": OTHERS });
    expect((await provider.read!("id", props())).props!.lines).toEqual([]);
  });

  it("shows the API server's own message when it refuses, also as the engine's plugin runs the provider", async () => {
    // A user the API server authenticates but RBAC lets read nothing here.
    const kubeconfig = await serviceAccountKubeconfig(api, NS, "no-rights", join(dir, `${NS}-no-rights`));
    const forbidden = `configmaps "mailserver.config" is forbidden: User "system:serviceaccount:${NS}:no-rights" cannot get resource "configmaps" in API group "" in the namespace "${NS}"`;
    const [checked, created] = (await callInPlugin(
      "kubernetes:ConfigMapLines",
      [
        { method: "check", args: [props(), props()] },
        { method: "create", args: [props()] },
      ],
      { KUBECONFIG: kubeconfig },
    )) as { error: string }[];
    expect(checked!.error).toContain(`HTTP 403 Forbidden: ${forbidden}`);
    expect(created!.error).toContain(`HTTP 403 Forbidden: ${forbidden}`);
  });
});

describe("an API server that never answers", () => {
  it("fails after KUBERNETES_HTTP_TIMEOUT_MS with an error naming the server and the fix, instead of hanging", async () => {
    // Accepts connections and never writes a byte: a black-holed server behind a dead VPN looks like this.
    const sockets: Socket[] = [];
    const hole = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => hole.listen(0, "127.0.0.1", r));
    const server = `http://127.0.0.1:${(hole.address() as { port: number }).port}`;
    const saved = process.env.KUBERNETES_HTTP_TIMEOUT_MS;
    process.env.KUBERNETES_HTTP_TIMEOUT_MS = "300";
    try {
      const started = Date.now();
      await expect(getConfigMap({ server, options: {} }, NS, CM)).rejects.toThrow(
        `GET ${server}/api/v1/namespaces/${NS}/configmaps/mailserver.config: the Kubernetes API server ${server} did not answer within 300 ms;` +
          ` check that the kubeconfig context (kubernetes:context, or the current one) points at a reachable cluster (kubectl cluster-info), or raise KUBERNETES_HTTP_TIMEOUT_MS`,
      );
      expect(Date.now() - started).toBeLessThan(3000);
      await expect(configMapLinesProvider(async () => ({ server, options: {} })).check!(props(), props())).rejects.toThrow(
        /did not answer within 300 ms/,
      );
    } finally {
      if (saved === undefined) delete process.env.KUBERNETES_HTTP_TIMEOUT_MS;
      else process.env.KUBERNETES_HTTP_TIMEOUT_MS = saved;
      for (const s of sockets) s.destroy();
      await new Promise((r) => hole.close(r));
    }
  }, 10_000);
});

describe("ConfigMapLines check (runs at preview)", () => {
  it("passes when nobody else defines the address, also while the lines are still unknown", async () => {
    expect((await provider.check!(props(), props())).failures).toEqual([]);
    const unknown = props({ lines: "04da6b54-80e4-46f7-96ec-b56ff0331ba9" as unknown as string[] });
    expect((await provider.check!(unknown, unknown)).failures).toEqual([]);
  });

  it("one GET of the shared ConfigMap serves the checks of every mailbox's account and alias lines, until we write it", async () => {
    const mailboxes = ["a", "b", "c"].map((l) => `${l}@viktorbarzin.me`);
    const all = mailboxes.flatMap((a) => [
      props({ owner: a, keys: [a], lines: [`${a}|h`] }),
      props({ owner: a, keys: [a], key: "postfix-virtual.cf", format: "virtual", lines: [`${a} ${a}`] }),
    ]);
    for (const p of all) expect((await viaProxy.check!(p, p)).failures).toEqual([]);
    expect(proxy.count("GET")).toBe(1);
    // Our own write makes the memo stale: the next check reads again and sees the new block.
    await viaProxy.create(all[0]!);
    proxy.reset();
    const clash = props({ owner: "other@viktorbarzin.me", keys: ["a@viktorbarzin.me"], lines: ["a@viktorbarzin.me|x"] });
    expect((await viaProxy.check!(clash, clash)).failures).toEqual([
      { property: "keys", reason: expect.stringContaining("already defines a@viktorbarzin.me") },
    ]);
    expect(proxy.requests.map((r) => r.method)).toEqual(["GET"]);
  });

  it("fails, naming the other manager and the line, when another owner defines the address", async () => {
    await terraformWrites({ "postfix-accounts.cf": "a@b.cd|x\nDOCS@viktorbarzin.me|$2a$06$terraform\n" });
    const { failures } = await provider.check!(props(), props());
    expect(failures).toEqual([
      { property: "keys", reason: expect.stringMatching(/docs@viktorbarzin.me \(line 2\).*managed by "Terraform"/) },
    ]);
  });

  it("fails at preview and refuses to write when a foreign line would make docker-mailserver panic on our account", async () => {
    // DMS's alias lookup greps postfix-accounts.cf unanchored and takes the first hit: here a comment.
    await terraformWrites({ "postfix-accounts.cf": "# docs@viktorbarzin.me moved to paperless\nspam@viktorbarzin.me|$2a$06$xyz\n" });
    const version = (await live()).metadata.resourceVersion;
    const hazard =
      /line 1 \("# docs@viktorbarzin.me moved to paperless"\) is the first line holding docs@viktorbarzin.me, and it has no hash/;
    for (const p of [props(), props({ lines: undefined as unknown as string[] })]) {
      expect((await provider.check!(p, p)).failures).toEqual([{ property: "keys", reason: expect.stringMatching(hazard) }]);
    }
    await expect(provider.create(props())).rejects.toThrow(hazard);
    expect((await live()).metadata.resourceVersion).toBe(version);
  });

  it("fails when the shared ConfigMap does not exist or a line defines a foreign key", async () => {
    expect((await provider.check!(props(), props({ name: "missing" }))).failures).toEqual([
      { property: "name", reason: expect.stringContaining(`ConfigMap ${NS}/missing does not exist`) },
    ]);
    expect((await provider.check!(props(), props({ lines: ["other@x.de|h"] }))).failures).toEqual([
      { property: "lines", reason: expect.stringContaining("1 line(s) define a key outside") },
    ]);
  });

  it("diff replaces (delete first) on a new target and updates on new lines", async () => {
    await provider.create(props());
    forgetProcessMemory(); // a new operation reads the ConfigMap afresh
    expect(await provider.diff!("id", props(), props())).toMatchObject({ changes: false, replaces: [] });
    expect(await provider.diff!("id", props(), props({ lines: ["docs@viktorbarzin.me|new"] }))).toMatchObject({
      changes: true,
      replaces: [],
    });
    expect(await provider.diff!("id", props(), props({ name: "other" }))).toMatchObject({
      changes: true,
      replaces: ["name"],
      deleteBeforeReplace: true,
    });
  });

  it("diff sees a block the owner's stack removed (its nightly apply, a -replace), or a line of it edited by hand, so a plain up puts it back", async () => {
    await provider.create(props());
    const ours = (await live()).data["postfix-accounts.cf"]!;
    await terraformWritesKey("postfix-accounts.cf", OTHERS);
    forgetProcessMemory();
    expect(await provider.diff!("id", props(), props())).toMatchObject({ changes: true, replaces: [] });
    await provider.update!("id", props(), props());
    expect((await live()).data["postfix-accounts.cf"]).toBe(ours);
    await terraformWritesKey("postfix-accounts.cf", ours.replace(LINE, `${LINE}0`));
    forgetProcessMemory();
    expect(await provider.diff!("id", props(), props())).toMatchObject({ changes: true, replaces: [] });
  });
});

describe("as the engine's plugin runs it: the shim, the built provider, @kubernetes/client-node bundled by the build, the named kubeconfig context", () => {
  it("reaches the cluster through the build's one-file bundle of client-node, which holds exactly the names the providers use", async () => {
    const bundle = join(BUILD, "providers", "kubernetes", CLIENT_NODE_BUNDLE);
    const kubeApi = join(BUILD, "providers", "kubernetes", "kubeApi.js");
    const [created, loaded, names] = await callInPlugin(
      "kubernetes:ConfigMapLines",
      [
        { method: "create", args: [props()] },
        { method: "$eval", args: [`require(${JSON.stringify(kubeApi)}).clientNode() === require(${JSON.stringify(bundle)})`] },
        { method: "$eval", args: [`Object.keys(require(${JSON.stringify(bundle)})).sort()`] },
      ],
      { KUBECONFIG: api.kubeconfig },
    );
    expect(created).toMatchObject({ id: expect.any(String) });
    expect((await live()).data["postfix-accounts.cf"]).toBe(OTHERS + "\n" + BLOCK);
    expect(loaded).toBe(true);
    expect(names).toEqual([...CLIENT_NODE_NAMES].sort());
  });

  it("writes through the context it is given, not the current one, loading the kubeconfig once", async () => {
    const kubeconfig = join(dir, `${NS}-contexts`);
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        "current-context": "wrong",
        clusters: [
          { name: "test", cluster: { server: api.server, "certificate-authority": api.caFile } },
          { name: "nowhere", cluster: { server: "https://127.0.0.1:1", "insecure-skip-tls-verify": true } },
        ],
        users: [{ name: "u", user: { token: api.token } }],
        contexts: [
          { name: "prod", context: { cluster: "test", user: "u" } },
          { name: "wrong", context: { cluster: "nowhere", user: "u" } },
        ],
      }),
    );
    const script = `require("node:fs").rmSync(${JSON.stringify(kubeconfig)})`;
    const results = await callInPlugin(
      "kubernetes:ConfigMapLines",
      [
        { method: "create", args: [props({ cluster: { ...DEFAULT_CLUSTER, context: "prod" } })] },
        // The kubeconfig is loaded once per context and process: removing it changes nothing now.
        { method: "$eval", args: [script] },
        { method: "read", args: ["id", props({ cluster: { ...DEFAULT_CLUSTER, context: "prod" }, lines: [] })] },
      ],
      { KUBECONFIG: kubeconfig },
    );
    expect(results[0]).toMatchObject({ id: expect.any(String) });
    expect(results[2]).toMatchObject({ props: { lines: [LINE] } });
    expect((await live()).data["postfix-accounts.cf"]).toBe(OTHERS + "\n" + BLOCK);
  });

  it.each(["kubeconfigPath", "kubeconfigText"] as const)(
    "reaches the cluster through the %s it is given (kubernetes:kubeconfig), with no KUBECONFIG at all",
    async (form) => {
      const text = readFileSync(api.kubeconfig, "utf8");
      const cluster = { ...DEFAULT_CLUSTER, [form]: form === "kubeconfigPath" ? api.kubeconfig : text };
      const [created] = await callInPlugin("kubernetes:ConfigMapLines", [{ method: "create", args: [props({ cluster })] }], {
        KUBECONFIG: join(dir, "no-such-file"),
      });
      expect(created).toMatchObject({ id: expect.any(String) });
      expect((await live()).data["postfix-accounts.cf"]).toBe(OTHERS + "\n" + BLOCK);
    },
  );
});

describe("kubeClient's surface", () => {
  it("exports only what the providers and tests use (the PUT and its error type stay private)", async () => {
    expect(Object.keys(await import("../../providers/kubernetes/kubeClient")).sort()).toEqual([
      "connect",
      "editConfigMapKey",
      "getConfigMap",
      "getObject",
      "keyManagers",
      "peekConfigMap",
      "peekDeployment",
      "selfAccess",
      "selfRules",
      "serverSideApply",
    ]);
  });
});
