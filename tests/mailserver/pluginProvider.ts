// A dynamic provider as the Pulumi engine's plugin runs it: a plain Node process (no TypeScript
// loader) evaluates the shim text the resource keeps in its state, whose handler() loads the
// provider from the project's build (providers/dynamic/load.js); it talks to the cluster through
// @kubernetes/client-node as the build bundles it (providers/kubernetes/kubeApi.ts), and the
// kubeconfig in KUBECONFIG.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { shimText } from "../../providers/dynamic/resource";
import type { DynamicKey } from "../../providers/dynamic/registry";

const ROOT = join(__dirname, "..", "..");

/** A provider method and its arguments; method "$eval" evaluates args[0] in that process instead. */
export interface PluginCall {
  method: string;
  args: unknown[];
}

/**
 * Runs `calls` one after another on the provider registered under `key`, loaded from its shim in
 * a process started in the project directory (the plugin's working directory). Resolves with each
 * call's result, or `{ error: message }` where one threw; rejects when the process itself fails.
 */
export async function callInPlugin(key: DynamicKey, calls: PluginCall[], env: NodeJS.ProcessEnv): Promise<unknown[]> {
  const script = `const shim = { exports: {} };
new Function("exports", "require", ${JSON.stringify(shimText(key))})(shim.exports, require);
const handler = shim.exports.handler();
(async () => {
  const results = [];
  for (const c of ${JSON.stringify(calls)}) {
    try { results.push(c.method === "$eval" ? eval(c.args[0]) : await handler[c.method](...c.args)); }
    catch (e) { results.push({ error: String(e && e.message) }); }
  }
  process.stdout.write(JSON.stringify(results));
})().then(() => process.exit(0), (e) => { console.error(e.stack); process.exit(1); }); // exit: don't wait for keep-alive sockets`;
  const child = spawn(process.execPath, ["-e", script], { env: { ...process.env, ...env }, cwd: ROOT });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => child.on("close", r));
  if (code !== 0) throw new Error(`plugin process exited ${code}: ${err}`);
  return JSON.parse(out) as unknown[];
}
