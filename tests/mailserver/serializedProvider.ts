// A dynamic provider as the Pulumi engine runs it: serialized by @pulumi/pulumi's closure
// serializer, loaded from that text in a plain Node process (the dynamic-provider host does
// requireFromString(text).handler()), talking to the cluster through the real
// @kubernetes/client-node and the kubeconfig in KUBECONFIG (jest cannot load that ESM package).
import { spawn } from "node:child_process";
import { join } from "node:path";

const ROOT = join(__dirname, "..", "..");

/** A provider method and its arguments; method "$eval" evaluates args[0] in that process instead. */
export interface SerializedCall { method: string; args: unknown[] }

/**
 * Builds the provider with `factory` (an export of `module`, called without arguments), serializes
 * it, and runs `calls` one after another on the loaded copy. Resolves with each call's result, or
 * `{ error: message }` where one threw; rejects when the process itself fails.
 */
export async function callSerialized(module: string, factory: string, calls: SerializedCall[], env: NodeJS.ProcessEnv): Promise<unknown[]> {
  const script = `const mod = require(${JSON.stringify(join(ROOT, module))});
const { serializeFunction } = require("@pulumi/pulumi/runtime/closure/serializeClosure");
const provider = mod[${JSON.stringify(factory)}]();
serializeFunction(() => provider, { allowSecrets: true })
  .then(async (sf) => {
    const handler = require("require-from-string")(sf.text).handler();
    const results = [];
    for (const c of ${JSON.stringify(calls)}) {
      try { results.push(c.method === "$eval" ? eval(c.args[0]) : await handler[c.method](...c.args)); }
      catch (e) { results.push({ error: String(e && e.message) }); }
    }
    process.stdout.write(JSON.stringify(results));
  })
  .then(() => process.exit(0), (e) => { console.error(e.stack); process.exit(1); }); // exit: don't wait for keep-alive sockets`;
  const child = spawn(process.execPath, ["--require", "tsx/cjs", "-e", script], { env: { ...process.env, ...env }, cwd: ROOT });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d));
  child.stderr.on("data", (d: Buffer) => (err += d));
  const code = await new Promise((r) => child.on("close", r));
  if (code !== 0) throw new Error(`serialized provider process exited ${code}: ${err}`);
  return JSON.parse(out) as unknown[];
}
