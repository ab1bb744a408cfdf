// The one file every dynamic resource's state names. The shim in the state (resource.ts) finds it
// from the plugin's working directory and calls provider(key); this file then loads that provider
// from the compiled build. It is plain JavaScript because it must run, and say what to do, when
// the build is missing or older than the sources: the engine's plugin process has no TypeScript
// loader. Its path and `provider(key)` are a contract with every deployed state: keep both.
"use strict";
const { createHash } = require("node:crypto");
const { existsSync, readFileSync } = require("node:fs");
const { join } = require("node:path");

const ROOT = join(__dirname, "..", "..");
const BUILD = join(ROOT, "build");
/** Written last by build.ts: the sha256 of every source file the build compiled. */
const STAMP = join(BUILD, "sources.json");
const REGISTRY = join(BUILD, "providers", "dynamic", "registry.js");
const REBUILD = `run \`npm run build\` in ${ROOT} (\`npm ci\` runs it too)`;

/** sha256 of a file's bytes, hex. */
function digest(file) {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

/** Sources (relative to the project) changed or gone since the build, or undefined when not built. */
function changedSources() {
  if (!existsSync(STAMP)) return undefined;
  const { files } = JSON.parse(readFileSync(STAMP, "utf8"));
  return Object.entries(files)
    .filter(([file, sha]) => {
      const path = join(ROOT, file);
      return !existsSync(path) || digest(path) !== sha;
    })
    .map(([file]) => file);
}

// Checked once per process: one plugin process serves every resource of a `pulumi` operation.
let problem;
function buildProblem() {
  if (problem !== undefined) return problem;
  const changed = changedSources();
  problem =
    changed === undefined
      ? `the dynamic providers are not built (no ${STAMP}): ${REBUILD}`
      : changed.length
        ? `the built dynamic providers in ${BUILD} are older than their sources (${changed.slice(0, 3).join(", ")}${changed.length > 3 ? `, … ${changed.length} in all` : ""} changed since the build): ${REBUILD}`
        : "";
  return problem;
}

/** An error that says what to do; its stack, which the plugin prints too, would only repeat it. */
function userError(message) {
  const e = new Error(message);
  e.stack = `${e.name}: ${message}`;
  return e;
}

// The Node dynamic-provider plugin answers an error thrown by check, diff, read or delete to the
// engine, which shows it under its resource, and also writes it to its stderr as
// `${e}: ${e.stack}`, which the engine shows again, trace and all. The plugin's echo of an error
// the engine already has is dropped here; anything else the plugin writes still shows.
const ECHOED = ["check", "diff", "read", "delete"];
const answered = new Set();
const consoleError = console.error.bind(console);
console.error = (...args) => {
  if (args.length === 1 && answered.delete(args[0])) return;
  consoleError(...args);
};

/** `impl` with each echoed method noting the errors it throws, as the plugin will print them. */
function echoOnce(impl) {
  const wrapped = Object.create(impl);
  for (const method of ECHOED) {
    if (typeof impl[method] !== "function") continue;
    wrapped[method] = async (...args) => {
      try {
        return await impl[method](...args);
      } catch (e) {
        answered.add(`${e}: ${e && e.stack}`);
        throw e;
      }
    };
  }
  return wrapped;
}

/** The provider registered under `key` (providers/dynamic/registry.ts), from a build of the current sources. */
function provider(key) {
  const built = buildProblem();
  if (built) throw userError(built);
  const { PROVIDERS } = require(REGISTRY);
  if (!Object.prototype.hasOwnProperty.call(PROVIDERS, key)) {
    throw userError(
      `this resource's state names the dynamic provider ${JSON.stringify(key)}, which providers/dynamic/registry.ts in ${ROOT} ` +
        `does not register (it has ${Object.keys(PROVIDERS).join(", ")}). A key in a state is permanent: if that provider was renamed ` +
        `or moved, register its old key again for it in registry.ts, run \`npm run build\` and retry; if it was removed on purpose, ` +
        "check out the commit that still has it to destroy its resources, or drop them with `pulumi state delete <urn>`",
    );
  }
  return echoOnce(PROVIDERS[key]());
}

module.exports = { provider, digest, ROOT, BUILD, STAMP };
