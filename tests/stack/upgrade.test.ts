// A stack deployed by an earlier release upgrades to this checkout's program without replacing or
// deleting anything. The earlier release is RELEASE's own program (index.ts, components, its
// build/), taken from git and run by the real CLI, with this checkout's node_modules; it deploys
// to the test cluster, Vault and paperless-ngx 3.0.5, then the same stack (same backend, same
// state) is previewed and updated with this checkout's program. Where a resource's URN or
// provider changed since, aliases carry it over: the preview must change nothing.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { startCluster, type Cluster } from "../support/cluster/cluster";
import { startPaperless, type PaperlessServer } from "../support/paperless/server";
import { programStack, type Operation, type ProgramStack } from "../support/programStack";
import { key, type MailboxEntry, prodStack, testStack } from "./scenarios";

jest.setTimeout(900_000);

/**
 * The release before the program had an explicit Vault provider and the SieveRollout component
 * (whose Vault secrets are on the default provider, and whose Deployment patch is a SieveMounts' child).
 */
const RELEASE = "b0e1eedcf6e5d1b6e20e2f9e299798abdca3f11a";
const ROOT = join(__dirname, "..", "..");

let cluster: Cluster;
let paperless: PaperlessServer;
let release: string;
let stack: ProgramStack;

/** Every step that is not `same`, as `op type::name`, sorted; without the dynamic providers' default provider (its inputs are the stack config). */
const changed = (op: Operation) =>
  op.changes
    .filter((s) => s.resource !== "pulumi:providers:pulumi-nodejs::default")
    .map((s) => `${s.op} ${s.resource}`)
    .sort();

function succeeded(op: Operation): Operation {
  if (!op.ok) throw new Error(`pulumi ${op.command} failed:\n${op.stdout.slice(-6000)}\n${op.stderr.slice(-3000)}`);
  return op;
}

beforeAll(async () => {
  // RELEASE's files as git has them, with this checkout's node_modules, and its providers built
  // (while the servers start).
  release = mkdtempSync(join(tmpdir(), "pmi-release-"));
  const run = promisify(execFile);
  const built = (async () => {
    await run("sh", ["-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", ROOT, RELEASE, release]);
    symlinkSync(join(ROOT, "node_modules"), join(release, "node_modules"));
    await run(join(ROOT, "node_modules", ".bin", "tsx"), ["providers/dynamic/build.ts"], { cwd: release });
  })();

  // Each kept as soon as it runs, so afterAll stops it also when the other failed to start.
  const started = await Promise.allSettled([
    built,
    startCluster().then((c) => (cluster = c)),
    startPaperless("3.0.5", { users: ["root", "anca", "emo"] }).then((p) => (paperless = p)),
  ]);
  for (const s of started) if (s.status === "rejected") throw s.reason;
  await cluster.installProductionObjects();
  stack = await programStack(`e2e-upgrade-${Math.random().toString(36).slice(2, 8)}`, { path: [cluster.binDir], project: release });
  stack.setConfig(
    testStack(cluster, {
      mailboxes: prodStack()[key("mailboxes")] as MailboxEntry[],
      paperlessUrl: paperless.url,
      fetchAfterChange: false,
      kubeconfig: cluster.kubeconfig,
    }),
  );
  await stack.setSecret(key("paperlessToken"), paperless.token);
  await stack.setSecret("vault:token", cluster.vault.rootToken);
});

afterAll(async () => {
  await stack?.dispose();
  await paperless?.stop();
  await cluster?.stop();
  if (release) rmSync(release, { recursive: true, force: true });
});

test("a stack deployed by the earlier release previews with no change under this program; up carries it over; the next preview is empty", async () => {
  const deployed = succeeded(await stack.up());
  expect(changed(deployed)).toContain("create vault:generic/secret:Secret::docs-at-viktorbarzin.me");
  const stateOf = async () =>
    JSON.parse(await stack.cli("stack", "export")).deployment.resources as { urn: string; type: string; provider?: string }[];
  const secretBefore = (await stateOf()).find((r) => r.type === "vault:generic/secret:Secret")!;
  expect(secretBefore.provider).toMatch(/::pulumi:providers:vault::default_7_8_0::/);

  stack.moveToProject(ROOT);
  const preview = succeeded(await stack.preview());
  // Nothing is replaced, deleted or created. The Vault provider, now explicit, takes over the
  // default one (an alias) and is updated with the two settings its SDK always sends, at their
  // defaults (@pulumi/vault's provider.js), which the default provider had left to the plugin.
  expect(changed(preview)).toEqual(["update pulumi:providers:vault::vault"]);
  expect([...preview.changes.find((s) => s.resource === "pulumi:providers:vault::vault")!.diffs!].sort()).toEqual([
    "maxLeaseTtlSeconds",
    "maxRetries",
  ]);

  succeeded(await stack.up());
  const state = await stateOf();
  const secret = state.find((r) => r.type === "vault:generic/secret:Secret")!;
  expect(secret.urn).toBe(secretBefore.urn);
  expect(secret.provider).toMatch(/::pulumi:providers:vault::vault::/);
  expect(state.map((r) => r.urn).filter((u) => /default_7_8_0|SieveMounts/.test(u))).toEqual([]);
  expect(changed(succeeded(await stack.preview()))).toEqual([]);
});
