import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { markers } from "../../core/ownedLines";
import { ConfigMapLinesProps, configMapLinesProvider } from "../../providers/kubernetes/configMapLines";
import { clearKubeCaches, editConfigMapKey, getConfigMap, KubeConnection } from "../../providers/kubernetes/kubeClient";
import { KubeApiEmulator } from "./kubeApiEmulator";

const NS = "mailserver";
const CM = "mailserver.config";
const OTHERS = "admin@viktorbarzin.me|{SHA512-CRYPT}$6$abc$def\n# kept comment\r\n\nspam@viktorbarzin.me|$2a$06$xyz";
const LINE = "docs@viktorbarzin.me|{SHA512-CRYPT}$6$salt$hash";
const TERRAFORM_FIELDS = [{ manager: "Terraform", operation: "Update", fieldsV1: { "f:data": { "f:postfix-accounts.cf": {}, "f:dovecot.cf": {} } } }];

const props = (over: Partial<ConfigMapLinesProps> = {}): ConfigMapLinesProps => ({
  namespace: NS, name: CM, key: "postfix-accounts.cf", owner: "docs@viktorbarzin.me", format: "accounts",
  keys: ["docs@viktorbarzin.me"], lines: [LINE], context: "", ...over,
});
const BLOCK = `${markers("docs@viktorbarzin.me").begin}\n${LINE}\n${markers("docs@viktorbarzin.me").end}\n`;

let emu: KubeApiEmulator;
let provider: pulumi.dynamic.ResourceProvider;
const puts = () => emu.requests.filter((r) => r.method === "PUT");

beforeEach(async () => {
  clearKubeCaches(); // each test is a new operation (a new plugin process)
  emu = await new KubeApiEmulator().start();
  emu.put(NS, CM, { "postfix-accounts.cf": OTHERS, "dovecot.cf": "x = y\n" }, TERRAFORM_FIELDS);
  const conn: KubeConnection = { server: emu.url, options: { headers: { authorization: "Bearer test-token" } } };
  provider = configMapLinesProvider(async () => conn);
});
afterEach(() => emu.stop());

describe("ConfigMapLines provider over HTTP", () => {
  it("create inserts our block, keeps the other lines byte for byte and ends with LF", async () => {
    const { id } = await provider.create!(props());
    expect(id).toBe("mailserver/mailserver.config/postfix-accounts.cf/docs@viktorbarzin.me");
    const data = emu.get(NS, CM)!.data!;
    expect(data["postfix-accounts.cf"]).toBe(OTHERS + "\n" + BLOCK);
    expect(data["dovecot.cf"]).toBe("x = y\n");
    expect(puts()).toHaveLength(1);
    expect(puts()[0]).toMatchObject({ authorization: "Bearer test-token", fieldManager: "paperless-mail-ingest" });
    // The API server keeps the other manager's record when our PUT leaves managedFields out.
    expect(emu.get(NS, CM)!.metadata.managedFields).toEqual(TERRAFORM_FIELDS);
  });

  it("re-applying the same lines writes nothing", async () => {
    await provider.create!(props());
    const version = emu.get(NS, CM)!.metadata.resourceVersion;
    await provider.update!("id", props(), props());
    expect(puts()).toHaveLength(1);
    expect(emu.get(NS, CM)!.metadata.resourceVersion).toBe(version);
  });

  it("update replaces the block in place; delete restores the original lines", async () => {
    await provider.create!(props());
    emu.put(NS, CM, { ...emu.get(NS, CM)!.data, "postfix-accounts.cf": emu.get(NS, CM)!.data!["postfix-accounts.cf"] + "late@x.de|h\n" });
    await provider.update!("id", props(), props({ lines: ["docs@viktorbarzin.me|new"] }));
    expect(emu.get(NS, CM)!.data!["postfix-accounts.cf"]).toBe(OTHERS + "\n" + BLOCK.replace(LINE, "docs@viktorbarzin.me|new") + "late@x.de|h\n");
    await provider.delete!("id", props({ lines: ["docs@viktorbarzin.me|new"] }));
    expect(emu.get(NS, CM)!.data!["postfix-accounts.cf"]).toBe(OTHERS + "\nlate@x.de|h\n");
    expect(emu.get(NS, CM)!.data!["dovecot.cf"]).toBe("x = y\n");
  });

  it("a concurrent write between our read and our write is kept: 409, re-read, re-apply", async () => {
    let raced = false;
    emu.beforePut = (ns, name) => {
      if (raced) return;
      raced = true;
      const live = emu.get(ns, name)!;
      emu.put(ns, name, { ...live.data, "postfix-accounts.cf": live.data!["postfix-accounts.cf"] + "\nnew@viktorbarzin.me|h\n" });
    };
    await provider.create!(props());
    expect(puts()).toHaveLength(2);
    expect(emu.get(NS, CM)!.data!["postfix-accounts.cf"]).toBe(OTHERS + "\nnew@viktorbarzin.me|h\n" + BLOCK);
  });

  it("gives up with an error naming the ConfigMap when every write conflicts", async () => {
    emu.beforePut = (ns, name) => void emu.put(ns, name, emu.get(ns, name)!.data!);
    const conn: KubeConnection = { server: emu.url, options: {} };
    await expect(editConfigMapKey(conn, NS, CM, "postfix-accounts.cf", (t) => t + "x\n", { attempts: 3, backoffMs: 1 }))
      .rejects.toThrow(/ConfigMap mailserver\/mailserver.config: still conflicting after 3 attempts .*409 Conflict/);
    expect(puts()).toHaveLength(3);
  });

  // Every mailbox adds an account and an alias writer to the same ConfigMap, all run in parallel
  // by the engine in one provider process.
  const writers = (n: number) => Array.from({ length: n }, (_, i) => `box${i}@viktorbarzin.me`).flatMap((a) => [
    props({ owner: a, keys: [a], lines: [`${a}|{SHA512-CRYPT}$6$s$h`] }),
    props({ owner: a, keys: [a], key: "postfix-virtual.cf", format: "virtual", lines: [`${a} ${a}`] }),
  ]);

  it("many parallel writers of this process all land, one after another, without a single conflict", async () => {
    const all = writers(8);
    await Promise.all(all.map((p) => provider.create!(p)));
    const data = emu.get(NS, CM)!.data!;
    for (const p of all) {
      expect(data[p.key]).toContain(`${markers(p.owner).begin}\n${p.lines[0]}\n${markers(p.owner).end}\n`);
    }
    expect(data["postfix-accounts.cf"]!.startsWith(OTHERS + "\n")).toBe(true);
    expect(puts()).toHaveLength(all.length); // no 409: each read the version the one before wrote
  });

  it("parallel writers of this process still retry around another client's writes", async () => {
    let external = 0;
    emu.beforePut = (ns, name) => {
      if (external >= 3) return;
      const live = emu.get(ns, name)!;
      emu.put(ns, name, { ...live.data, "dovecot.cf": live.data!["dovecot.cf"] + `external${++external}\n` });
    };
    const all = writers(3);
    await Promise.all(all.map((p) => provider.create!(p)));
    const data = emu.get(NS, CM)!.data!;
    for (const p of all) expect(data[p.key]).toContain(`\n${p.lines[0]}\n`);
    expect(data["dovecot.cf"]).toBe("x = y\nexternal1\nexternal2\nexternal3\n");
    expect(puts()).toHaveLength(all.length + 3); // each external write cost exactly one retry
  });

  it("refuses to add a second definition of our address, naming the other manager and writing nothing", async () => {
    emu.put(NS, CM, { "postfix-accounts.cf": "docs@viktorbarzin.me|$2a$06$terraform\n" }, TERRAFORM_FIELDS);
    await expect(provider.create!(props())).rejects.toThrow(
      /key postfix-accounts.cf already defines docs@viktorbarzin.me \(line 1\) outside the block of docs@viktorbarzin.me \(the key is managed by "Terraform"\)/);
    expect(puts()).toHaveLength(0);
  });

  it("delete of an already removed block or ConfigMap succeeds without writing", async () => {
    await provider.delete!("id", props());
    const fresh = await new KubeApiEmulator().start();
    try {
      await configMapLinesProvider(async () => ({ server: fresh.url, options: {} })).delete!("id", props());
      expect(fresh.requests.map((r) => r.method)).toEqual(["GET"]);
    } finally {
      await fresh.stop();
    }
    expect(puts()).toHaveLength(0);
  });

  it("read reports the block as it really is (refresh)", async () => {
    await provider.create!(props());
    expect((await provider.read!("id", props({ lines: ["stale"] }))).props!.lines).toEqual([LINE]);
    emu.put(NS, CM, { "postfix-accounts.cf": OTHERS });
    expect((await provider.read!("id", props())).props!.lines).toEqual([]);
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
        `GET ${server}/api/v1/namespaces/mailserver/configmaps/mailserver.config: the Kubernetes API server ${server} did not answer within 300 ms;`
        + ` check that the kubeconfig context (kubernetes:context, or the current one) points at a reachable cluster (kubectl cluster-info), or raise KUBERNETES_HTTP_TIMEOUT_MS`);
      expect(Date.now() - started).toBeLessThan(3000);
      await expect(configMapLinesProvider(async () => ({ server, options: {} })).check!(props(), props())).rejects.toThrow(/did not answer within 300 ms/);
    } finally {
      if (saved === undefined) delete process.env.KUBERNETES_HTTP_TIMEOUT_MS; else process.env.KUBERNETES_HTTP_TIMEOUT_MS = saved;
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
    for (const p of all) expect((await provider.check!(p, p)).failures).toEqual([]);
    expect(emu.requests.filter((r) => r.method === "GET")).toHaveLength(1);
    // Our own write makes the memo stale: the next check reads again and sees the new block.
    await provider.create!(all[0]!);
    emu.requests.length = 0;
    const clash = props({ owner: "other@viktorbarzin.me", keys: ["a@viktorbarzin.me"], lines: ["a@viktorbarzin.me|x"] });
    expect((await provider.check!(clash, clash)).failures).toEqual([{ property: "keys", reason: expect.stringContaining("already defines a@viktorbarzin.me") }]);
    expect(emu.requests.map((r) => r.method)).toEqual(["GET"]);
  });

  it("fails, naming the other manager and the line, when another owner defines the address", async () => {
    emu.put(NS, CM, { "postfix-accounts.cf": "a@b.cd|x\nDOCS@viktorbarzin.me|$2a$06$terraform\n" }, TERRAFORM_FIELDS);
    const { failures } = await provider.check!(props(), props());
    expect(failures).toEqual([{ property: "keys", reason: expect.stringMatching(/docs@viktorbarzin.me \(line 2\).*managed by "Terraform"/) }]);
  });

  it("fails at preview and refuses to write when a foreign line would make docker-mailserver panic on our account", async () => {
    // DMS's alias lookup greps postfix-accounts.cf unanchored and takes the first hit: here a comment.
    emu.put(NS, CM, { "postfix-accounts.cf": "# docs@viktorbarzin.me moved to paperless\nspam@viktorbarzin.me|$2a$06$xyz\n" }, TERRAFORM_FIELDS);
    const hazard = /line 1 \("# docs@viktorbarzin.me moved to paperless"\) is the first line holding docs@viktorbarzin.me, and it has no hash/;
    for (const p of [props(), props({ lines: undefined as unknown as string[] })]) {
      expect((await provider.check!(p, p)).failures).toEqual([{ property: "keys", reason: expect.stringMatching(hazard) }]);
    }
    await expect(provider.create!(props())).rejects.toThrow(hazard);
    expect(puts()).toHaveLength(0);
  });

  it("fails when the shared ConfigMap does not exist or a line defines a foreign key", async () => {
    expect((await provider.check!(props(), props({ name: "missing" }))).failures)
      .toEqual([{ property: "name", reason: expect.stringContaining("ConfigMap mailserver/missing does not exist") }]);
    expect((await provider.check!(props(), props({ lines: ["other@x.de|h"] }))).failures)
      .toEqual([{ property: "lines", reason: expect.stringContaining("1 line(s) define a key outside") }]);
  });

  it("diff replaces (delete first) on a new target and updates on new lines", async () => {
    expect(await provider.diff!("id", props(), props())).toMatchObject({ changes: false, replaces: [] });
    expect(await provider.diff!("id", props(), props({ lines: ["docs@viktorbarzin.me|new"] }))).toMatchObject({ changes: true, replaces: [] });
    expect(await provider.diff!("id", props(), props({ name: "other" }))).toMatchObject({ changes: true, replaces: ["name"], deleteBeforeReplace: true });
  });
});

describe("as Pulumi runs it: serialized provider, real @kubernetes/client-node, plain Node process", () => {
  it("serializes, loads like the dynamic-provider host and writes through the named kubeconfig context", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kubeconfig-"));
    const kubeconfig = join(dir, "config");
    writeFileSync(kubeconfig, JSON.stringify({
      apiVersion: "v1", kind: "Config", "current-context": "wrong",
      clusters: [
        { name: "emu", cluster: { server: emu.url, "insecure-skip-tls-verify": true } },
        { name: "nowhere", cluster: { server: "http://127.0.0.1:1", "insecure-skip-tls-verify": true } },
      ],
      users: [{ name: "u", user: { token: "from-kubeconfig" } }],
      contexts: [{ name: "prod", context: { cluster: "emu", user: "u" } }, { name: "wrong", context: { cluster: "nowhere", user: "u" } }],
    }));
    // jest cannot load the ESM client; the dynamic-provider host does requireFromString(text).handler().
    const script = `const { configMapLinesProvider } = require(${JSON.stringify(join(__dirname, "../../providers/kubernetes/configMapLines"))});
const { serializeFunction } = require("@pulumi/pulumi/runtime/closure/serializeClosure");
const provider = configMapLinesProvider();
serializeFunction(() => provider, { allowSecrets: true })
  .then(async (sf) => {
    const handler = require("require-from-string")(sf.text).handler();
    await handler.create(${JSON.stringify(props({ context: "prod" }))});
    // The kubeconfig is loaded once per context and process, not on every call.
    require("node:fs").rmSync(${JSON.stringify(kubeconfig)});
    const { props: read } = await handler.read("id", ${JSON.stringify(props({ context: "prod", lines: [] }))});
    if (read.lines[0] !== ${JSON.stringify(LINE)}) throw new Error("read after the kubeconfig was removed: " + JSON.stringify(read));
  })
  .then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1); }); // exit: don't wait for keep-alive sockets`;
    // Async spawn: the emulator answers from this process's event loop.
    const child = spawn(process.execPath, ["--require", "tsx/cjs", "-e", script],
      { env: { ...process.env, KUBECONFIG: kubeconfig }, cwd: join(__dirname, "../..") });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d));
    const code = await new Promise((r) => child.on("close", r));
    expect({ code, err }).toMatchObject({ code: 0 }); // err shows in the diff when it fails
    expect(emu.get(NS, CM)!.data!["postfix-accounts.cf"]).toBe(OTHERS + "\n" + BLOCK);
    expect(new Set(emu.requests.map((r) => r.authorization))).toEqual(new Set(["Bearer from-kubeconfig"]));
  });
});

describe("kubeClient's surface", () => {
  it("exports only what the providers and tests use (the PUT and its error type stay private)", async () => {
    expect(Object.keys(await import("../../providers/kubernetes/kubeClient")).sort())
      .toEqual(["clearKubeCaches", "connect", "dryRunApply", "editConfigMapKey", "getConfigMap", "getObject", "keyManagers", "peekConfigMap", "serverSideApply"]);
  });
});
