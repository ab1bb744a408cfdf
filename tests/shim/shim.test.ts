// The dynamic-provider shim (providers/dynamic) through the real engine: what the state holds,
// that pulumi-resource-pulumi-nodejs runs the provider from it (configure included), that refresh
// and destroy need nothing but the state and the project, and that every way the project can fail
// to provide the provider (module moved, build missing or stale, key renamed, pulumi run outside
// the project) stops with a message saying what to do.
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import type { PulumiFn } from "@pulumi/pulumi/automation";
import { PROVIDERS, type DynamicKey } from "../../providers/dynamic/registry";
import { dynamicType, shimText } from "../../providers/dynamic/resource";
import { RandomText } from "../../providers/random/resources";
import { engineStack, type EngineStack } from "../e2e/engine";
import { PROD_STACK_FILE } from "../support/prodConfig";

jest.setTimeout(240_000);

const ROOT = join(__dirname, "..", "..");
const KEY: DynamicKey = "random:RandomText";
const TYPE = "pulumi-nodejs:dynamic/random:RandomText";

interface StateResource {
  urn: string;
  type: string;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  sourcePosition?: string;
  stackTrace?: { sourcePosition?: string }[];
}

/** A stack of the project whose program declares one RandomText named `salt` (none when `declare()` is false). */
async function randomTextStack(name: string, opts: { workDir?: string; declare?: () => boolean } = {}): Promise<EngineStack> {
  const program: PulumiFn = async () => {
    if (opts.declare && !opts.declare()) return {};
    return { value: new RandomText("salt", { alphabet: "abcdef", length: 12, secret: false }).value };
  };
  const engine = await engineStack(name, program, opts.workDir ? { workDir: opts.workDir } : {});
  // The CLI requires the project's declared config keys before any program runs: the prod stack's.
  const prod = (parseYaml(readFileSync(PROD_STACK_FILE, "utf8")) as { config: Record<string, unknown> }).config;
  await engine.stack.workspace.saveStackSettings(engine.stack.name, { config: prod });
  return engine;
}

const resources = async (engine: EngineStack): Promise<StateResource[]> =>
  ((await engine.stack.exportStack()).deployment.resources ?? []) as StateResource[];

/** The engine's output of an operation that must fail (the Automation API throws it). */
async function failure(op: Promise<unknown>): Promise<string> {
  try {
    await op;
  } catch (e) {
    return String((e as Error).message);
  }
  throw new Error("expected the operation to fail");
}

test("every registered provider has its type token under the one scheme; the state's text names only the key", () => {
  // Frozen names: a state keeps these, so a change needs an alias (and the old key kept in the registry).
  expect(
    Object.keys(PROVIDERS)
      .map((k) => dynamicType(k as DynamicKey))
      .sort(),
  ).toEqual([
    "pulumi-nodejs:dynamic/kubernetes:ConfigMapLines",
    "pulumi-nodejs:dynamic/kubernetes:DeploymentMountsPatch",
    "pulumi-nodejs:dynamic/kubernetes:KubernetesRights",
    "pulumi-nodejs:dynamic/paperless:PaperlessMailAccount",
    "pulumi-nodejs:dynamic/paperless:PaperlessMailFetch",
    "pulumi-nodejs:dynamic/paperless:PaperlessMailRule",
    "pulumi-nodejs:dynamic/paperless:PaperlessTag",
    "pulumi-nodejs:dynamic/random:RandomText",
    "pulumi-nodejs:dynamic/vault:VaultWritePreflight",
  ]);
  for (const key of Object.keys(PROVIDERS) as DynamicKey[]) {
    const text = shimText(key);
    expect(text.length).toBeLessThan(120);
    expect(text).toContain(JSON.stringify(key));
    expect(typeof PROVIDERS[key]().create).toBe("function");
  }
});

describe("in the project", () => {
  let engine: EngineStack;
  let declared = true;
  beforeAll(async () => {
    engine = await randomTextStack("shim", { declare: () => declared });
  });
  afterAll(() => engine?.dispose());

  test("up keeps the ~100-byte shim in the state, in place of the provider's code", async () => {
    const up = await engine.stack.up();
    expect(up.summary.resourceChanges).toEqual({ create: 2 });
    const salt = (await resources(engine)).find((r) => r.type === TYPE)!;
    expect(salt.inputs!.__provider).toBe(shimText(KEY));
    expect(salt.outputs!.__provider).toBe(shimText(KEY));
    expect(salt.outputs!.value).toMatch(/^[a-f]{12}$/);
    expect(up.outputs.value!.value).toBe(salt.outputs!.value);
    // Where the program declared it, whole, though the SDK's promise stacks are skipped (docs/performance.md#promise-stacks).
    expect(salt.sourcePosition).toMatch(/\/providers\/random\/resources\.ts#\d+,\d+$/);
    expect(salt.stackTrace!.map((f) => f.sourcePosition)).toContainEqual(expect.stringMatching(/\/tests\/shim\/shim\.test\.ts#\d+,\d+$/));
  });

  test("a second up changes nothing, a refresh reads the same, both from the shim", async () => {
    const before = (await resources(engine)).find((r) => r.type === TYPE)!.outputs!.value;
    // (The counts are of the stack and the RandomText: the engine does not count its default provider.)
    expect((await engine.stack.up()).summary.resourceChanges).toEqual({ same: 2 });
    expect((await engine.stack.refresh()).summary.resourceChanges).toEqual({ same: 2 });
    expect((await resources(engine)).find((r) => r.type === TYPE)!.outputs!.value).toBe(before);
  });

  test("a state naming a key the registry lacks (a renamed kind) fails refresh and destroy saying what to do", async () => {
    const saved = await engine.stack.exportStack();
    const renamed = JSON.parse(
      JSON.stringify(saved)
        .split(JSON.stringify(JSON.stringify(KEY)).slice(1, -1))
        .join(JSON.stringify(JSON.stringify("random:RandomString")).slice(1, -1)),
    );
    expect(JSON.stringify(renamed)).toContain("random:RandomString");
    await engine.stack.importStack(renamed);
    const advice =
      'this resource\'s state names the dynamic provider "random:RandomString", which providers/dynamic/registry.ts in ' +
      `${ROOT} does not register (it has kubernetes:ConfigMapLines, `;
    for (const op of [() => engine.stack.refresh(), () => engine.stack.destroy()]) {
      const out = await failure(op());
      expect(out).toContain(advice);
      expect(out).toContain("register its old key again for it in registry.ts, run `npm run build` and retry");
    }
    await engine.stack.importStack(saved);
  });

  test("a resource the program no longer declares is deleted through its state's shim; destroy needs only the state", async () => {
    declared = false;
    expect((await engine.stack.up()).summary.resourceChanges).toEqual({ delete: 1, same: 1 });
    declared = true;
    expect((await engine.stack.up()).summary.resourceChanges).toEqual({ create: 1, same: 1 });
    expect((await engine.stack.destroy()).summary.resourceChanges).toEqual({ delete: 2 });
    expect(await resources(engine)).toEqual([]);
  });
});

test("run outside the project, the shim names the file it looked for", async () => {
  const outside = mkdtempSync(join(tmpdir(), "paperless-mail-ingest-outside-"));
  const engine = await randomTextStack("outside", { workDir: outside });
  try {
    const out = await failure(engine.stack.preview());
    expect(out).toContain(`Cannot find module '${join(outside, "providers", "dynamic", "load.js")}'`);
  } finally {
    engine.dispose();
    rmSync(outside, { recursive: true, force: true });
  }
});

describe("in a copy of the project (its modules moved and rebuilt, its build removed)", () => {
  let copy: string;
  let engine: EngineStack;
  const build = () =>
    execFileSync(process.execPath, [require.resolve("tsx/cli"), join(copy, "providers", "dynamic", "build.ts")], {
      cwd: copy,
      stdio: ["ignore", "ignore", "pipe"],
    });

  beforeAll(async () => {
    copy = mkdtempSync(join(tmpdir(), "paperless-mail-ingest-copy-"));
    for (const part of ["providers", "core", "templates", "tsconfig.json"]) cpSync(join(ROOT, part), join(copy, part), { recursive: true });
    symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"));
    // The copy's RandomText takes its value from configure(): the plugin must call it, with the stack's config.
    const source = join(copy, "providers", "random", "randomText.ts");
    const text = readFileSync(source, "utf8");
    const patched = text
      .replace(
        "export const randomTextProvider: pulumi.dynamic.ResourceProvider = {",
        'let configured = "";\nexport const randomTextProvider: pulumi.dynamic.ResourceProvider = {\n' +
          '  async configure(req) { configured = req.config.require("shimtest:value"); },',
      )
      .replace("const value = randomText(inputs.alphabet, inputs.length);", "const value = configured;");
    expect(patched).not.toBe(text);
    writeFileSync(source, patched);
    build();
    engine = await randomTextStack("copy", { workDir: copy });
    await engine.stack.setConfig("shimtest:value", { value: "from-configure" });
  });
  afterAll(() => {
    engine?.dispose();
    rmSync(copy, { recursive: true, force: true });
  });

  test("the plugin runs the copy's provider, configure first, with the stack config", async () => {
    await engine.stack.up();
    expect((await resources(engine)).find((r) => r.type === TYPE)!.outputs!.value).toBe("from-configure");
  });

  test("a module moved without a rebuild: refresh says which source changed and what to run", async () => {
    renameSync(join(copy, "providers", "random", "randomText.ts"), join(copy, "providers", "random", "text.ts"));
    const registry = join(copy, "providers", "dynamic", "registry.ts");
    writeFileSync(registry, readFileSync(registry, "utf8").replace('"../random/randomText"', '"../random/text"'));
    const out = await failure(engine.stack.refresh());
    expect(out).toContain(`the built dynamic providers in ${join(copy, "build")} are older than their sources (`);
    expect(out).toMatch(/providers\/random\/randomText\.ts.*changed since the build\): run `npm run build` in /);
  });

  test("rebuilt, the same state refreshes and destroys: it names the key, not the module", async () => {
    build();
    const before = await resources(engine);
    expect((await engine.stack.refresh()).summary.resourceChanges).toEqual({ same: 2 });
    const kept = (rs: StateResource[]) => rs.map(({ urn, inputs, outputs }) => ({ urn, inputs, outputs }));
    expect(kept(await resources(engine))).toEqual(kept(before));
    expect((await engine.stack.destroy()).summary.resourceChanges).toEqual({ delete: 2 });
  });

  test("with no build, preview says to build", async () => {
    rmSync(join(copy, "build"), { recursive: true });
    const out = await failure(engine.stack.preview());
    expect(out).toContain(
      `the dynamic providers are not built (no ${join(copy, "build", "sources.json")}): run \`npm run build\` in ${copy} (\`npm ci\` runs it too)`,
    );
  });
});
