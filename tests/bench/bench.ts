// npm run bench -- [--quick] [--senders 5,50,500] [--repetitions 3] [--config Pulumi.prod.yaml] [--only engine|doctor|program]
//   --quick: N = 5,50, one repetition, time ratios shown but not checked, no doctor or program step (what `npm test` runs)
//   --only:  the engine steps, the doctor step or the whole-program step alone
//
// What a deploy costs as N grows, measured through the real engine (the Pulumi CLI and
// pulumi-resource-pulumi-nodejs, tests/e2e/engine.ts) against an engine floor in the same run:
// for each N, the paperless half of the program over a copy of the stack's first mailbox with N
// senders (against a real paperless-ngx 3.0.5, through a counting proxy) and N dynamic resources
// whose provider does nothing (tests/bench/stacks.ts). Each repetition runs every step on both
// stacks, one after the other and in alternating order (so a machine busy with other work slows
// both alike): first up, preview (plain and with refresh), up with nothing to change, refresh,
// destroy. Medians of the repetitions are compared with the budgets (docs/performance.md#budgets),
// as ratios to the floor.
//
// Then, on the stack index.ts deploys on the test cluster at 5 and 50 senders (tests/bench/clusterBench.ts),
// the doctor step (tests/bench/doctorBench.ts): `npm run doctor`'s time, and requests that must not
// grow with the senders; and the whole-program step (tests/bench/programBench.ts): `pulumi preview`
// and a no-change `pulumi up` of index.ts against a floor program with the same providers and no
// resource. They need the whole test cluster (a few minutes to start and deploy), so the quick
// form leaves them out; tests/doctor checks the doctor's request counts at 5 and 50 senders in `npm test`.
//
// stdout: the tables, then as the last line one JSON object {"runs":[…],"doctor":[…],"program":[…]}. Progress goes to stderr,
// at least every 20 s. Exit 1 when a budget is missed, 2 when the bench itself fails.
import { performance } from "node:perf_hooks";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { renderArtifacts } from "../../core/artifacts";
import { parseConfig } from "../../stack/config";
import { fromStackFile } from "../../stack/stackConfig";
import type { EngineStack } from "../e2e/engine";
import { FLOOR_TYPE, floorStack, paperlessStack, stateBytes } from "./stacks";
import { CLUSTER_SENDERS, measureOnCluster } from "./clusterBench";
import { doctorBudgetProblems, doctorTable } from "./doctorBench";
import { programBudgetProblems, programTable } from "./programBench";
import { median } from "./median";
import { textTable } from "./textTable";
import { dynamicType } from "../../providers/dynamic/resource";
import { startFaultProxy, type FaultProxy } from "../support/faultProxy";
import { startPaperless, type PaperlessServer } from "../support/paperless/server";

export const PAPERLESS_VERSION = "3.0.5";

/**
 * previewRefresh, `pulumi preview --refresh` (what Pulumi.yaml's `options: refresh: always` makes of
 * every preview), is measured beside the plain preview, which reads paperless's live objects itself.
 */
export const STEPS = ["firstUp", "preview", "previewRefresh", "noChangeUp", "refresh", "destroy"] as const;
export type Step = (typeof STEPS)[number];

/** One N: medians over the repetitions. */
export interface BenchRun {
  senders: number;
  previewRatio: number;
  noChangeUpRatio: number;
  refreshRatio: number;
  firstUpRatio: number;
  /**
   * What one more sender adds to the checkpoint beyond the floor's: the mean size of a mail rule
   * resource in ours minus that of a floor resource (the mailbox's own account, tag and component
   * are there once, whatever N; stateBytes has the totals).
   */
  stateBytesPerSender: number;
  /** Requests paperless got during one refresh / preview / no-change up of the whole stack. */
  refreshRequests: number;
  previewRequests: number;
  noChangeUpRequests: number;
  /** Validation + render of the stack (core, no engine): `npm run render`'s work. */
  renderMs: number;
  floorMs: Record<Step, number>;
  oursMs: Record<Step, number>;
  /** The whole checkpoints after the first up. */
  stateBytes: { floor: number; ours: number };
  /** Mean bytes of one per-sender resource: a floor resource, a mail rule. */
  resourceBytes: { floor: number; ours: number };
  repetitions: number;
}

export const BUDGETS = {
  previewRatio: 1.5,
  noChangeUpRatio: 1.5,
  refreshRatio: 1.5,
  firstUpRatio: 2,
  stateBytesPerSender: 2048,
  renderMs: 1000,
} as const;

/** providers/paperless/client.ts lists 1000 objects per page: more rules or users may cost more pages. */
const PAGE_SIZE = 1000;
const PASSWORD = "bench mailbox password";
const PROGRESS_MS = 20_000;
const RENDER_REPETITIONS = 7;

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

/** The paperless users the senders map to. */
function owners(raw: Record<string, unknown>): string[] {
  const result = parseConfig(raw);
  if (!result.ok) throw new Error(`generated config is invalid:\n${result.problems.join("\n")}`);
  return [...new Set(result.config.mailboxes.flatMap((m) => m.senders.map((s) => s.user)))];
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

function renderMs(raw: Record<string, unknown>): number {
  const times: number[] = [];
  for (let i = 0; i < RENDER_REPETITIONS; i++) {
    const start = performance.now();
    const result = parseConfig(raw);
    if (!result.ok) throw new Error(result.problems.join("\n"));
    renderArtifacts(result.config);
    times.push(performance.now() - start);
  }
  return round(median(times), 2);
}

// ---------------------------------------------------------------------------------------------
// One step on one stack, timed, checked, with progress

interface Outcome {
  /** Resource changes the engine reported (resourceChanges / changeSummary), by op. */
  changes: Record<string, number>;
}

/** The engine's changes for one step: each step must do exactly what it is meant to, or the timing means nothing. */
async function runStep(engine: EngineStack, step: Step, onEvent: (e: EngineEvent) => void): Promise<Outcome> {
  const s = engine.stack;
  switch (step) {
    case "firstUp":
    case "noChangeUp":
      return { changes: (await s.up({ onEvent })).summary.resourceChanges ?? {} };
    case "preview":
      return { changes: (await s.preview({ onEvent })).changeSummary };
    case "previewRefresh":
      return { changes: (await s.preview({ onEvent, refresh: true })).changeSummary };
    case "refresh":
      return { changes: (await s.refresh({ onEvent })).summary.resourceChanges ?? {} };
    case "destroy":
      return { changes: (await s.destroy({ onEvent })).summary.resourceChanges ?? {} };
  }
}

/** The one op a step may report: creates, deletes, or nothing but `same`. */
const EXPECTED_OP: Record<Step, string> = {
  firstUp: "create",
  preview: "same",
  previewRefresh: "same",
  noChangeUp: "same",
  refresh: "same",
  destroy: "delete",
};

async function timedStep(label: string, engine: EngineStack, step: Step): Promise<number> {
  let done = 0;
  const started = performance.now();
  const progress = setInterval(
    () => log(`${label}: ${done} resources done, ${Math.round((performance.now() - started) / 1000)} s`),
    PROGRESS_MS,
  );
  try {
    const { changes } = await runStep(engine, step, (e) => {
      if (e.resOutputsEvent) done++;
    });
    const ms = performance.now() - started;
    const ops = Object.keys(changes).filter((op) => changes[op]);
    if (ops.length !== 1 || ops[0] !== EXPECTED_OP[step]) {
      throw new Error(`${label}: expected only "${EXPECTED_OP[step]}", the engine reported ${JSON.stringify(changes)}`);
    }
    return ms;
  } finally {
    clearInterval(progress);
  }
}

// ---------------------------------------------------------------------------------------------
// One N

interface Samples {
  floor: Record<Step, number[]>;
  ours: Record<Step, number[]>;
  state: { floor: number[]; ours: number[] };
  /** Mean bytes of one per-sender resource (a mail rule; a floor resource). */
  perSender: { floor: number[]; ours: number[] };
  requests: { preview: number[]; refresh: number[]; noChangeUp: number[] };
}

const emptySteps = (): Record<Step, number[]> => ({
  firstUp: [],
  preview: [],
  previewRefresh: [],
  noChangeUp: [],
  refresh: [],
  destroy: [],
});

async function paperlessCount(server: PaperlessServer, collection: string): Promise<number> {
  const res = await fetch(`${server.url}/api/${collection}/?page_size=1`, { headers: { Authorization: `Token ${server.token}` } });
  if (!res.ok) throw new Error(`GET /api/${collection}/ on the bench's paperless: HTTP ${res.status}`);
  return ((await res.json()) as { count: number }).count;
}

async function measure(
  n: number,
  raw: Record<string, unknown>,
  repetitions: number,
  server: PaperlessServer,
  proxy: FaultProxy,
): Promise<BenchRun> {
  const samples: Samples = {
    floor: emptySteps(),
    ours: emptySteps(),
    state: { floor: [], ours: [] },
    perSender: { floor: [], ours: [] },
    requests: { preview: [], refresh: [], noChangeUp: [] },
  };
  const floor = await floorStack(n);
  const ours = await paperlessStack(n, raw, { url: proxy.url, token: server.token }, PASSWORD);
  try {
    for (let rep = 1; rep <= repetitions; rep++) {
      const order = rep % 2 ? (["floor", "ours"] as const) : (["ours", "floor"] as const);
      for (const step of STEPS) {
        for (const which of order) {
          const engine = which === "floor" ? floor : ours;
          proxy.reset();
          const label = `N=${n} repetition ${rep}/${repetitions} ${which} ${step}`;
          const ms = await timedStep(label, engine, step);
          samples[which][step].push(ms);
          if (which === "ours") {
            if (step === "preview" || step === "refresh" || step === "noChangeUp") samples.requests[step].push(proxy.count());
            if (step === "noChangeUp" && proxy.writes().length) {
              throw new Error(
                `${label}: wrote to paperless: ${proxy
                  .writes()
                  .map((w) => `${w.method} ${w.path}`)
                  .join(", ")}`,
              );
            }
            const rules = step === "firstUp" || step === "destroy" ? await paperlessCount(server, "mail_rules") : undefined;
            if (rules !== undefined && rules !== (step === "firstUp" ? n : 0))
              throw new Error(`${label}: paperless holds ${rules} mail rules`);
          }
          if (step === "firstUp") {
            const bytes = stateBytes(engine, which === "floor" ? FLOOR_TYPE : dynamicType("paperless:PaperlessMailRule"));
            samples.state[which].push(bytes.total);
            samples.perSender[which].push(bytes.perSender);
          }
          log(`${label}: ${Math.round(ms)} ms`);
        }
      }
    }
  } finally {
    floor.dispose();
    ours.dispose();
  }
  const ms = (xs: Record<Step, number[]>) => Object.fromEntries(STEPS.map((s) => [s, Math.round(median(xs[s]))])) as Record<Step, number>;
  const floorMs = ms(samples.floor);
  const oursMs = ms(samples.ours);
  const ratio = (s: Step) => round(oursMs[s] / floorMs[s], 2);
  const state = { floor: median(samples.state.floor), ours: median(samples.state.ours) };
  const resourceBytes = { floor: Math.round(median(samples.perSender.floor)), ours: Math.round(median(samples.perSender.ours)) };
  return {
    senders: n,
    previewRatio: ratio("preview"),
    noChangeUpRatio: ratio("noChangeUp"),
    refreshRatio: ratio("refresh"),
    firstUpRatio: ratio("firstUp"),
    stateBytesPerSender: resourceBytes.ours - resourceBytes.floor,
    refreshRequests: median(samples.requests.refresh),
    previewRequests: median(samples.requests.preview),
    noChangeUpRequests: median(samples.requests.noChangeUp),
    renderMs: renderMs(raw),
    floorMs,
    oursMs,
    stateBytes: state,
    resourceBytes,
    repetitions,
  };
}

// ---------------------------------------------------------------------------------------------
// Budgets and report

/** List pages one listing of the rules and users takes beyond the smallest N's (rules ≈ senders, users grow with them). */
const extraPages = (n: number, base: number) => Math.ceil(n / PAGE_SIZE) - Math.ceil(base / PAGE_SIZE);

const TIMED = ["previewRatio", "noChangeUpRatio", "refreshRatio", "firstUpRatio"] as const;

/**
 * Every missed budget, as a sentence naming the measured value, the budget and where. `timed`
 * false (the quick form) leaves out the time ratios: one repetition of steps of 2-5 s does not
 * measure a ratio to 10 %, while state bytes, requests and render time do not depend on the load.
 */
export function budgetProblems(runs: readonly BenchRun[], timed = true): string[] {
  const problems: string[] = [];
  const base = [...runs].sort((a, b) => a.senders - b.senders)[0];
  for (const r of runs) {
    for (const key of [...(timed ? TIMED : []), "stateBytesPerSender"] as const) {
      if (r[key] > BUDGETS[key]) problems.push(`N=${r.senders}: ${key} ${r[key]} > ${BUDGETS[key]}`);
    }
    if (r.senders <= 500 && r.renderMs >= BUDGETS.renderMs) problems.push(`N=${r.senders}: renderMs ${r.renderMs} >= ${BUDGETS.renderMs}`);
    if (!base || r === base) continue;
    const allowed = 2 * Math.max(0, extraPages(r.senders, base.senders)); // rules and users
    for (const key of ["previewRequests", "refreshRequests", "noChangeUpRequests"] as const) {
      if (r[key] > base[key] + allowed) {
        problems.push(
          `N=${r.senders}: ${key} ${r[key]} > ${base[key] + allowed} (N=${base.senders} made ${base[key]}): paperless requests grow with N`,
        );
      }
    }
  }
  return problems;
}

const pct = (value: number, budget: number) => `${Math.round((1 - value / budget) * 100)}%`;

/** The table: per N, ours and the floor per step, the ratios and how far each is under its budget. */
export function table(runs: readonly BenchRun[]): string {
  const rows: string[][] = [["N", "step", "floor ms", "ours ms", "ratio", "budget", "headroom"]];
  for (const r of runs) {
    const ratios: Record<Step, [number, number] | undefined> = {
      firstUp: [r.firstUpRatio, BUDGETS.firstUpRatio],
      preview: [r.previewRatio, BUDGETS.previewRatio],
      noChangeUp: [r.noChangeUpRatio, BUDGETS.noChangeUpRatio],
      refresh: [r.refreshRatio, BUDGETS.refreshRatio],
      previewRefresh: undefined,
      destroy: undefined,
    };
    for (const step of STEPS) {
      const rb = ratios[step];
      rows.push([
        String(r.senders),
        step,
        String(r.floorMs[step]),
        String(r.oursMs[step]),
        rb ? rb[0].toFixed(2) : (r.oursMs[step] / r.floorMs[step]).toFixed(2),
        rb ? `≤ ${rb[1]}` : "-",
        rb ? pct(rb[0], rb[1]) : "-",
      ]);
    }
    rows.push([
      String(r.senders),
      "state B/sender",
      String(r.resourceBytes.floor),
      String(r.resourceBytes.ours),
      `+${r.stateBytesPerSender}`,
      `≤ +${BUDGETS.stateBytesPerSender}`,
      pct(r.stateBytesPerSender, BUDGETS.stateBytesPerSender),
    ]);
    rows.push([
      String(r.senders),
      "paperless req",
      "-",
      `preview ${r.previewRequests}, up ${r.noChangeUpRequests}, refresh ${r.refreshRequests}`,
      "-",
      "flat in N",
      "-",
    ]);
    rows.push([String(r.senders), "render ms", "-", String(r.renderMs), "-", `< ${BUDGETS.renderMs}`, pct(r.renderMs, BUDGETS.renderMs)]);
  }
  return textTable(rows, [0, 1]);
}

// ---------------------------------------------------------------------------------------------
// Entry point

function positiveInts(flag: string, text: string, max: number): number[] {
  const ns = text.split(",").map((s) => Number(s.trim()));
  if (!ns.length || ns.some((x) => !Number.isInteger(x) || x < 1 || x > max)) {
    throw new Error(`${flag} ${JSON.stringify(text)}: expected a comma-separated list of integers between 1 and ${max}`);
  }
  return ns;
}

async function main(argv: string[]): Promise<number> {
  let senders: number[];
  let repetitions: number;
  let configPath: string;
  let quick: boolean;
  let only: "engine" | "doctor" | "program" | undefined;
  try {
    const args = parseArgs({
      args: argv,
      options: {
        senders: { type: "string" },
        repetitions: { type: "string" },
        quick: { type: "boolean", default: false },
        config: { type: "string", default: "Pulumi.prod.yaml" },
        only: { type: "string" },
      },
      strict: true,
    }).values;
    quick = args.quick;
    if (args.only !== undefined && args.only !== "engine" && args.only !== "doctor" && args.only !== "program")
      throw new Error(`--only ${JSON.stringify(args.only)}: expected engine, doctor or program`);
    if (args.only !== undefined && args.only !== "engine" && quick)
      throw new Error(`--quick has no ${args.only} step: drop --quick or --only ${args.only}`);
    only = args.only;
    senders = positiveInts("--senders", args.senders ?? (quick ? "5,50" : "5,50,500"), 5000);
    [repetitions] = positiveInts("--repetitions", args.repetitions ?? (quick ? "1" : "3"), 99) as [number];
    configPath = resolve(args.config);
  } catch (e) {
    log(
      `${(e as Error).message}\nusage: npm run bench -- [--quick] [--senders 5,50,500] [--repetitions 3] [--config <stack yaml>] [--only engine|doctor|program]`,
    );
    return 2;
  }

  const runs = only === undefined || only === "engine" ? await engineRuns(stackRaw(configPath), senders, repetitions) : [];
  const onCluster = { doctor: only === undefined || only === "doctor", program: only === undefined || only === "program" };
  if (quick) {
    log(
      `quick form: no doctor or program step (they deploy the whole stack on the test cluster); npm run bench measures them at ${CLUSTER_SENDERS.join(" and ")} senders`,
    );
  }
  const { doctor, program } =
    !quick && (onCluster.doctor || onCluster.program) ? await measureOnCluster(onCluster, repetitions, log) : { doctor: [], program: [] };
  const tables = [
    ...(runs.length ? [table(runs)] : []),
    ...(doctor.length ? [doctorTable(doctor)] : []),
    ...(program.length ? [programTable(program)] : []),
  ];
  process.stdout.write(`${tables.join("\n\n")}\n${JSON.stringify({ runs, doctor, program })}\n`);
  const problems = [...budgetProblems(runs, !quick), ...doctorBudgetProblems(doctor), ...programBudgetProblems(program)];
  if (quick) log("quick form: time ratios shown, not checked (npm run bench checks them)");
  if (problems.length) {
    log(`${problems.length} budget(s) missed:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    return 1;
  }
  log("all budgets met");
  return 0;
}

/** The engine steps at every N, against one paperless-ngx behind the counting proxy. */
async function engineRuns(raw: Record<string, unknown>, senders: readonly number[], repetitions: number): Promise<BenchRun[]> {
  const largest = withSenders(raw, Math.max(...senders));
  log(`starting paperless-ngx ${PAPERLESS_VERSION} …`);
  const server = await startPaperless(PAPERLESS_VERSION, { users: owners(largest).filter((u) => u !== "admin") });
  const proxy = await startFaultProxy(server.url);
  const runs: BenchRun[] = [];
  try {
    for (const n of senders) {
      const started = performance.now();
      log(`N=${n}: ${repetitions} repetition(s) of ${STEPS.join(", ")} on the floor and on ours`);
      runs.push(await measure(n, withSenders(raw, n), repetitions, server, proxy));
      log(`N=${n}: done in ${Math.round((performance.now() - started) / 1000)} s`);
    }
  } finally {
    await proxy.close();
    await server.stop();
  }
  return runs;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      log(`failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      process.exitCode = 2;
    },
  );
}
