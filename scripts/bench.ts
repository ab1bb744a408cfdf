// npm run bench -- [--senders 5,50,500] [--config Pulumi.prod.yaml]
// Measures, for a copy of a stack's first mailbox carrying N senders: validation + render time,
// the paperless requests of a full refresh and of a no-change deploy (provider methods driven as
// the engine drives them, against a real paperless-ngx 3.0.5 on 127.0.0.1), and peak memory.
// Each N runs in a fresh child process so its memory peak is its own; paperless runs in a process
// of its own (it stands for the paperless server, whose memory is not ours). stdout carries only one
// JSON object; progress goes to stderr. Exit 1 when a budget (issue 5) is broken, 2 on a failure.
// peakRssMb is the child's maxRSS in MiB over the whole run (render repetitions, first deploy,
// refresh, no-change deploy), with plain JavaScript loaded: node + @pulumi/pulumi alone is ~120 MiB.
import { spawnSync } from "child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { dirname, join, resolve } from "path";
import { performance } from "perf_hooks";
import { parseArgs } from "util";
import { parse as parseYaml } from "yaml";
import { renderArtifacts } from "../core/artifacts";
import { parseConfig } from "../core/config";
import { fromStackFile } from "../core/stackConfig";
import type { IngestConfig } from "../core/types";
import { PaperlessClient } from "../providers/paperless/client";
import { startPaperlessProcess } from "../tests/bench/paperlessHost";
import { mailboxResources, ProviderDriver, type Step } from "../tests/paperless/providerDriver";

/** One line of the report (the issue's shape). */
export interface BenchRun {
  senders: number;
  renderMs: number;
  refreshRequests: number;
  noChangeDeployRequests: number;
  peakRssMb: number;
}

/** What a child measures: the run, plus how many list pages one full listing of every collection takes. */
export interface Measured extends BenchRun {
  listPages: number;
  /** Requests per paperless route, for finding the cause when a count grows. */
  refreshByRoute: Record<string, number>;
  noChangeByRoute: Record<string, number>;
}

export const BUDGETS = { renderMs: 1000, renderUpToSenders: 500, peakRssMb: 200 } as const;

const RENDER_REPETITIONS = 7;
const PASSWORD = "bench mailbox password";
const LIST_COLLECTIONS = ["/api/mail_accounts/", "/api/mail_rules/", "/api/tags/", "/api/users/"];

const log = (text: string) => process.stderr.write(`bench: ${text}\n`);

// ---------------------------------------------------------------------------------------------
// The input: the stack's raw config with its first mailbox's sender list grown to N

/**
 * The stack's own senders first, then generated ones. Owners cycle over the stack's users plus one
 * generated user per ten senders, so the users list grows with N the way a real installation's would.
 */
export function withSenders(stackRaw: Record<string, unknown>, n: number): Record<string, unknown> {
  const mailboxes = stackRaw.mailboxes as Record<string, unknown>[];
  const first = mailboxes[0]!;
  const own = (first.senders as Record<string, unknown>[]).slice(0, n);
  const owners = [...new Set(own.map((s) => String(s.user)))];
  for (let k = 1; k <= Math.floor(n / 10); k++) owners.push(`bench-user-${String(k).padStart(3, "0")}`);
  const generated = Array.from({ length: n - own.length }, (_, i) => {
    const j = own.length + i + 1;
    const id = String(j).padStart(4, "0");
    return { address: `sender-${id}@bench.example.org`, user: owners[j % owners.length], label: `Bench sender ${id}` };
  });
  return { ...stackRaw, mailboxes: [{ ...first, senders: [...own, ...generated] }] };
}

function stackRaw(path: string): Record<string, unknown> {
  const doc = parseYaml(readFileSync(path, "utf8")) as { config?: Record<string, unknown> };
  const stack = fromStackFile(doc.config ?? {});
  if (stack.problems.length) throw new Error(`${path}: ${stack.problems.join("; ")}`);
  return stack.raw;
}

function validate(raw: unknown): IngestConfig {
  const result = parseConfig(raw);
  if (!result.ok) throw new Error(`generated config is invalid:\n${result.problems.join("\n")}`);
  return result.config;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

// ---------------------------------------------------------------------------------------------
// One N, in this process

function expectOps(what: string, steps: readonly Step[], op: Step["op"], count: number): void {
  const other = steps.filter((s) => s.op !== op);
  if (steps.length !== count || other.length) {
    throw new Error(`${what}: expected ${count} × ${op}, got ${steps.length} steps (${other.slice(0, 5).map((s) => `${s.op} ${s.name}`).join(", ")})`);
  }
}

export async function measure(n: number, configPath: string): Promise<Measured> {
  const raw = withSenders(stackRaw(configPath), n);
  const times: number[] = [];
  let config: IngestConfig | undefined;
  for (let i = 0; i < RENDER_REPETITIONS; i++) {
    const start = performance.now();
    config = validate(raw);
    renderArtifacts(config);
    times.push(performance.now() - start);
  }
  config = config!;

  const users = [...new Set(config.mailboxes.flatMap((m) => m.senders.map((s) => s.user)))].filter((u) => u !== "admin");
  const emu = await startPaperlessProcess(users);
  try {
    const desired = config.mailboxes.flatMap((m) => mailboxResources(m.localPart, m, config.mailserver,
      { ...config.paperless, url: emu.url }, { password: PASSWORD }));
    // The providers read the token at call time (stack config or environment).
    process.env.PAPERLESS_API_TOKEN = emu.token;
    const driver = new ProviderDriver();

    expectOps("first deploy", await driver.up(desired), "create", desired.length);
    const deployed = await emu.stats();
    if (deployed.rules !== n) throw new Error(`first deploy: paperless holds ${deployed.rules} rules, expected ${n}`);

    await emu.resetCounters();
    expectOps("refresh", await driver.refresh(), "refresh", desired.length);
    const refresh = await emu.stats();

    await emu.resetCounters();
    expectOps("no-change deploy", await driver.up(desired), "same", desired.length);
    const noChange = await emu.stats();
    if (noChange.writes.length) throw new Error(`no-change deploy wrote: ${noChange.writes.join(", ")}`);

    // The allowance: what one full listing of each collection costs with the provider's own client.
    const client = new PaperlessClient(emu.url, emu.token);
    await client.serverInfo();
    await emu.resetCounters();
    for (const c of LIST_COLLECTIONS) await client.listAll(c);
    const listPages = (await emu.stats()).total;

    const peakRssMb = round(process.resourceUsage().maxRSS / 1024, 1); // maxRSS is in KiB
    return { senders: n, renderMs: round(median(times), 2), refreshRequests: refresh.total, noChangeDeployRequests: noChange.total,
      peakRssMb, listPages, refreshByRoute: refresh.byRoute, noChangeByRoute: noChange.byRoute };
  } finally {
    await emu.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Budgets (issue 5)

/**
 * Every broken budget, as a sentence. Request counts may grow with N only by the extra list pages
 * (compared with the smallest N): anything more is a request per resource.
 */
export function budgetProblems(runs: readonly Measured[]): string[] {
  const problems: string[] = [];
  const base = [...runs].sort((a, b) => a.senders - b.senders)[0];
  for (const r of runs) {
    if (r.senders <= BUDGETS.renderUpToSenders && r.renderMs >= BUDGETS.renderMs) {
      problems.push(`N=${r.senders}: validation + render took ${r.renderMs} ms (budget: under ${BUDGETS.renderMs} ms up to N=${BUDGETS.renderUpToSenders})`);
    }
    if (r.peakRssMb >= BUDGETS.peakRssMb) {
      problems.push(`N=${r.senders}: peak RSS ${r.peakRssMb} MB (budget: under ${BUDGETS.peakRssMb} MB)`);
    }
    if (!base || r === base) continue;
    const extraPages = r.listPages - base.listPages;
    for (const [field, byRoute] of [["refreshRequests", "refreshByRoute"], ["noChangeDeployRequests", "noChangeByRoute"]] as const) {
      const allowed = base[field] + Math.max(0, extraPages);
      if (r[field] > allowed) {
        problems.push(`N=${r.senders}: ${field} ${r[field]} > ${allowed} (N=${base.senders} made ${base[field]}, plus ${Math.max(0, extraPages)} extra list page(s)): `
          + `requests grow per resource; by route: ${JSON.stringify(r[byRoute])}`);
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Entry points

function parseSenders(text: string): number[] {
  const ns = text.split(",").map((s) => Number(s.trim()));
  if (!ns.length || ns.some((x) => !Number.isInteger(x) || x < 1 || x > 30000)) {
    throw new Error(`--senders ${JSON.stringify(text)}: expected a comma-separated list of integers between 1 and 30000`);
  }
  return ns;
}

const ROOT = join(__dirname, "..");
// What the measured process loads: the program's modules and the test drivers (paperless host, ProviderDriver),
// and what the paperless host runs (tests/support/paperless: its manage.sh and scripts/setup-paperless.sh --check).
const PLAIN_JS_DIRS = ["core", "components", "providers", "scripts", "tests/paperless", "tests/bench", "tests/support"];

/**
 * Transpile the modules a run loads to plain JavaScript in a temporary folder. A TypeScript loader in
 * the measured process would count its own memory (tsx's hook keeps a source map of every module it
 * loads, ~60 MB with @pulumi/pulumi); the engine's dynamic-provider host runs plain JavaScript too.
 */
function buildPlainJs(): string {
  const ts = require("typescript") as typeof import("typescript");
  const out = mkdtempSync(join(tmpdir(), "paperless-mail-ingest-bench-"));
  const walk = (dir: string): string[] => readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]);
  const files = PLAIN_JS_DIRS.flatMap(walk);
  const isModule = (f: string) => f.endsWith(".ts") && !f.endsWith(".test.ts") && !f.endsWith(".d.ts");
  // Scripts and data files beside the modules (shell, Python, locks) are linked as they are.
  for (const file of files.filter((f) => !f.endsWith(".ts"))) {
    mkdirSync(dirname(join(out, file)), { recursive: true });
    symlinkSync(join(ROOT, file), join(out, file));
  }
  for (const file of files.filter(isModule)) {
    const js = ts.transpileModule(readFileSync(join(ROOT, file), "utf8"), {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    }).outputText;
    mkdirSync(dirname(join(out, file)), { recursive: true });
    writeFileSync(join(out, file.replace(/\.ts$/, ".js")), js);
  }
  symlinkSync(join(ROOT, "templates"), join(out, "templates")); // core/sieve.ts reads its template beside core/
  return out;
}

/** Run one N in a fresh node on the plain-JavaScript build and read its single JSON line. */
function runChild(build: string, n: number, configPath: string): Measured {
  const child = spawnSync(process.execPath, [join(build, "scripts", "bench.js"), "--child", String(n), "--config", configPath], {
    stdio: ["ignore", "pipe", "inherit"],
    encoding: "utf8",
    timeout: 600_000, // a first deploy of N rules against the real server
    // Packages resolve from the project's node_modules, not from the temporary folder.
    env: { ...process.env, NODE_PATH: join(ROOT, "node_modules") },
  });
  if (child.status !== 0) {
    throw new Error(`the run for N=${n} failed (${child.error?.message ?? (child.signal ? `signal ${child.signal}` : `exit ${child.status}`)})`);
  }
  return JSON.parse(child.stdout.trim().split("\n").pop()!) as Measured;
}

async function main(argv: string[]): Promise<number> {
  let args;
  let senders: number[];
  try {
    args = parseArgs({
      args: argv,
      options: {
        senders: { type: "string", default: "5,50,500" },
        config: { type: "string", default: "Pulumi.prod.yaml" },
        child: { type: "string" },
      },
      strict: true,
    }).values;
    senders = parseSenders(args.child ?? args.senders);
  } catch (e) {
    log(`${(e as Error).message}\nusage: npm run bench -- [--senders 5,50,500] [--config <stack yaml>]`);
    return 2;
  }
  if (args.child !== undefined) {
    process.stdout.write(JSON.stringify(await measure(senders[0]!, args.config)) + "\n");
    return 0;
  }

  const measured: Measured[] = [];
  const build = buildPlainJs();
  try {
    for (const n of senders) {
      log(`N=${n} …`);
      const started = performance.now();
      const m = runChild(build, n, resolve(args.config));
      log(`N=${n}: render ${m.renderMs} ms, refresh ${m.refreshRequests} req ${JSON.stringify(m.refreshByRoute)}, `
        + `no-change deploy ${m.noChangeDeployRequests} req ${JSON.stringify(m.noChangeByRoute)}, peak RSS ${m.peakRssMb} MB `
        + `(${Math.round(performance.now() - started)} ms in all)`);
      measured.push(m);
    }
  } finally {
    rmSync(build, { recursive: true, force: true });
  }
  const runs: BenchRun[] = measured.map(({ senders: n, renderMs, refreshRequests, noChangeDeployRequests, peakRssMb }) =>
    ({ senders: n, renderMs, refreshRequests, noChangeDeployRequests, peakRssMb }));
  process.stdout.write(JSON.stringify({ runs }) + "\n");

  const problems = budgetProblems(measured);
  if (problems.length) {
    log(`${problems.length} budget(s) broken:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    return 1;
  }
  log("all budgets met");
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: unknown) => {
    log(`failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 2;
  });
}
