// `npm run build` (and `npm ci`, through the `prepare` script): compiles the dynamic providers,
// from registry.ts down through every module it imports, to JavaScript in build/, and writes the
// list of sources it compiled with their sha256 (load.js refuses a build older than its sources).
// The engine's plugin process loads this build: it runs plain Node, with no TypeScript loader.
// Type errors are `npm run typecheck`'s business; this only transpiles (noCheck), in ~1 s.
// It also bundles the names the providers take from @kubernetes/client-node into one file
// (docs/performance.md#the-kubernetes-client): the plugin loads it in a third of the package's time.
import { buildSync } from "esbuild";
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import * as ts from "typescript";
import { CLIENT_NODE_BUNDLE, CLIENT_NODE_NAMES } from "../kubernetes/kubeApi";
import { BUILD, digest, ROOT, STAMP } from "./load";

const ENTRY = join(ROOT, "providers", "dynamic", "registry.ts");
/** The package the bundle is made from: a new version in node_modules makes the build stale. */
const CLIENT_NODE_PACKAGE = join(ROOT, "node_modules", "@kubernetes", "client-node", "package.json");

/** client-node's names the providers use, and what they import, in one CommonJS file beside kubeApi.js. */
function bundleClientNode(): void {
  const result = buildSync({
    stdin: { contents: `export { ${CLIENT_NODE_NAMES.join(", ")} } from "@kubernetes/client-node";`, resolveDir: ROOT, loader: "js" },
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    outfile: join(BUILD, "providers", "kubernetes", CLIENT_NODE_BUNDLE),
    logLevel: "silent",
  });
  if (result.errors.length || result.warnings.length) {
    for (const m of [...result.errors, ...result.warnings]) process.stderr.write(`build: bundling @kubernetes/client-node: ${m.text}\n`);
    process.exit(1);
  }
}

function fail(diagnostics: readonly ts.Diagnostic[]): never {
  const host: ts.FormatDiagnosticsHost = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => ROOT, getNewLine: () => "\n" };
  process.stderr.write(`build: ${ts.formatDiagnostics(diagnostics, host)}`);
  process.exit(1);
}

function main(): void {
  const started = Date.now();
  const read: { config?: unknown; error?: ts.Diagnostic } = ts.readConfigFile(join(ROOT, "tsconfig.json"), (path) => ts.sys.readFile(path));
  const { config, error } = read;
  if (error) fail([error]);
  const { options } = ts.parseJsonConfigFileContent(config, ts.sys, ROOT);
  const program = ts.createProgram([ENTRY], {
    ...options,
    rootDir: ROOT,
    outDir: BUILD,
    noEmit: false,
    noCheck: true,
    sourceMap: true,
    declaration: false,
    types: ["node"],
  });
  const syntax = program.getSyntacticDiagnostics();
  if (syntax.length) fail(syntax);
  // A clean folder: a module moved away must not linger there.
  rmSync(BUILD, { recursive: true, force: true });
  mkdirSync(BUILD, { recursive: true });
  const emitted = program.emit();
  if (emitted.emitSkipped || emitted.diagnostics.length) fail(emitted.diagnostics);
  // Modules read their templates beside them (core/sieve.ts: ../templates): a link, so never stale.
  symlinkSync(join("..", "templates"), join(BUILD, "templates"));
  bundleClientNode();
  const compiled = program
    .getSourceFiles()
    .map((f) => f.fileName)
    .filter((f) => !f.endsWith(".d.ts") && !relative(ROOT, f).split(sep).includes("node_modules"));
  const sources = [...compiled, CLIENT_NODE_PACKAGE];
  // Written last: a build interrupted before this point counts as no build.
  writeFileSync(STAMP, `${JSON.stringify({ files: Object.fromEntries(sources.map((f) => [relative(ROOT, f), digest(f)])) }, null, 2)}\n`);
  process.stderr.write(
    `build: ${compiled.length} modules compiled and @kubernetes/client-node bundled to ${relative(ROOT, BUILD)}/ in ${Date.now() - started} ms\n`,
  );
}

main();
