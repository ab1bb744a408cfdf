// The bench's whole-program step: `pulumi preview` and a no-change `pulumi up` of index.ts as a user
// runs them (the real CLI, Node language host and provider plugins: tests/support/programStack.ts),
// on the stack tests/doctor deploys on the test cluster, beside the floor a user cannot go below:
// the same CLI, stack config and providers running tests/bench/floorProgram, which declares the
// providers and no resource. Interleaved, in alternating order, so a busy machine slows both alike;
// the ratio to the floor is the measure. Also the Kubernetes API requests of each of ours, from the
// API server's own counters (apiserver_request_total).
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { DoctorStack } from "../doctor/doctorStack";
import { key } from "../stack/scenarios";
import { programStack, type Operation, type ProgramStack } from "../support/programStack";
import { median } from "./median";
import { textTable } from "./textTable";

export const PROGRAM_STEPS = ["preview", "noChangeUp"] as const;
export type ProgramStep = (typeof PROGRAM_STEPS)[number];

/** One N: medians over the repetitions. */
export interface ProgramBenchRun {
  senders: number;
  floorMs: Record<ProgramStep, number>;
  oursMs: Record<ProgramStep, number>;
  previewRatio: number;
  noChangeUpRatio: number;
  /**
   * Requests the Kubernetes API server counted during one run of ours (all clients, watches left
   * out), by `VERB resource`: the program's reads and dry runs, and its providers' own.
   */
  kubeRequests: Record<ProgramStep, Record<string, number>>;
  repetitions: number;
}

export const PROGRAM_BUDGETS = {
  /** A preview at 5 senders, against the floor. */
  previewRatio: 1.3,
} as const;

const FLOOR_PROJECT = join(__dirname, "floorProgram");

/** The floor's stack, on the same servers and stack config as `h`'s, deployed (its providers are in its state). */
export async function programFloor(h: DoctorStack): Promise<ProgramStack> {
  const floor = await programStack(`e2e-bench-floor-${Math.random().toString(36).slice(2, 8)}`, {
    project: FLOOR_PROJECT,
    path: [h.cluster.binDir],
    env: { VAULT_TOKEN: h.stack.env.VAULT_TOKEN ?? "" },
  });
  try {
    floor.setConfig(h.config());
    await floor.setSecret(key("paperlessToken"), h.paperless.token);
    const up = await floor.up();
    if (!up.ok) throw new Error(`the floor's first up failed:\n${up.stdout.slice(-4000)}\n${up.stderr.slice(-2000)}`);
    return floor;
  } catch (e) {
    await floor.dispose();
    throw e;
  }
}

/** The test cluster's own traffic, whatever runs: the node agent's heartbeat (its Node's status, its Lease), events, Service endpoints. */
const BACKGROUND = new Set(["nodes", "leases", "events", "endpoints", "endpointslices"]);

/**
 * apiserver_request_total by `VERB resource[/subresource][ (dry run)]`; watches, non-resource URLs
 * (discovery) and the cluster's own background traffic left out.
 */
export function requestCounters(metrics: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of metrics.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (labels.verb === "WATCH" || !labels.resource || BACKGROUND.has(labels.resource)) continue;
    const name = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ""}${labels.dry_run ? " (dry run)" : ""}`;
    counts.set(name, (counts.get(name) ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1)));
  }
  return counts;
}

/** What the counters grew by between two readings. */
function grown(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const delta = [...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)] as const).filter(([, d]) => d > 0);
  return Object.fromEntries(delta.sort(([a], [b]) => a.localeCompare(b)));
}

async function runStep(stack: ProgramStack, step: ProgramStep): Promise<Operation> {
  return step === "preview" ? await stack.preview() : await stack.up();
}

/** One N on the deployed stack `h` (its senders already at `n`): warm-up runs of both, then the repetitions. */
export async function measureProgramAt(
  h: DoctorStack,
  floor: ProgramStack,
  n: number,
  repetitions: number,
  log: (line: string) => void,
): Promise<ProgramBenchRun> {
  // The doctor step leaves its own identity in the stack file: both run as the deploying one.
  h.stack.setConfig(h.config());
  floor.setConfig(h.config());
  const stacks = { floor, ours: h.stack };
  const counters = async () => requestCounters(await h.kubectl("get", "--raw", "/metrics"));
  const samples = {
    floor: { preview: [] as number[], noChangeUp: [] as number[] },
    ours: { preview: [] as number[], noChangeUp: [] as number[] },
  };
  const requests: Record<ProgramStep, string[]> = { preview: [], noChangeUp: [] };
  // One run before the measured ones (rep 0): the plugins' binaries and the program's modules in the page cache.
  for (let rep = 0; rep <= repetitions; rep++) {
    const order = rep % 2 ? (["floor", "ours"] as const) : (["ours", "floor"] as const);
    for (const step of PROGRAM_STEPS) {
      for (const which of order) {
        const label = `program: N=${n} ${rep ? `repetition ${rep}/${repetitions}` : "warm-up"} ${which} ${step}`;
        const before = which === "ours" ? await counters() : undefined;
        const started = performance.now();
        const op = await runStep(stacks[which], step);
        const ms = performance.now() - started;
        // Each run must change nothing, or its time means nothing.
        if (!op.ok || op.changes.length) {
          throw new Error(
            `${label}: expected no change, got ${op.ok ? op.changes.map((c) => `${c.op} ${c.resource}`).join(", ") : "a failure"}\n${op.stdout.slice(-4000)}\n${op.stderr.slice(-2000)}`,
          );
        }
        log(`${label}: ${Math.round(ms)} ms`);
        if (!rep) continue;
        samples[which][step].push(ms);
        if (before) requests[step].push(JSON.stringify(grown(before, await counters())));
      }
    }
  }
  const ms = (xs: Record<ProgramStep, number[]>) =>
    Object.fromEntries(PROGRAM_STEPS.map((s) => [s, Math.round(median(xs[s]))])) as Record<ProgramStep, number>;
  const floorMs = ms(samples.floor);
  const oursMs = ms(samples.ours);
  const ratio = (s: ProgramStep) => Math.round((oursMs[s] / floorMs[s]) * 100) / 100;
  // Other clients (Reloader, the controllers) also count: the least of the repetitions is ours.
  const least = (xs: string[]) =>
    xs
      .map((x) => JSON.parse(x) as Record<string, number>)
      .reduce((a, b) => (Object.values(b).reduce((s, v) => s + v, 0) < Object.values(a).reduce((s, v) => s + v, 0) ? b : a));
  return {
    senders: n,
    floorMs,
    oursMs,
    previewRatio: ratio("preview"),
    noChangeUpRatio: ratio("noChangeUp"),
    kubeRequests: { preview: least(requests.preview), noChangeUp: least(requests.noChangeUp) },
    repetitions,
  };
}

/** Engine operations per step, each a plugin process with its own reads: `pulumi up` previews, then updates. */
const OPERATIONS: Record<ProgramStep, number> = { preview: 1, noChangeUp: 2 };

const total = (counts: Record<string, number>) => Object.values(counts).reduce((s, v) => s + v, 0);

/**
 * Every missed budget: a preview at 5 senders over 1.3× the floor (when `timed`), more than one GET
 * of the mailserver Deployment per engine operation, and Kubernetes requests that grow with N
 * (against the smallest N).
 */
export function programBudgetProblems(runs: readonly ProgramBenchRun[], timed = true): string[] {
  const problems: string[] = [];
  const base = [...runs].sort((a, b) => a.senders - b.senders)[0];
  for (const r of runs) {
    if (timed && r.senders <= 5 && r.previewRatio > PROGRAM_BUDGETS.previewRatio)
      problems.push(`program N=${r.senders}: previewRatio ${r.previewRatio} > ${PROGRAM_BUDGETS.previewRatio}`);
    for (const step of PROGRAM_STEPS) {
      const gets = r.kubeRequests[step]["GET deployments"] ?? 0;
      if (gets > OPERATIONS[step])
        problems.push(
          `program N=${r.senders}: ${step} made ${gets} GETs of deployments in ${OPERATIONS[step]} engine operation(s) (one serves each)`,
        );
      if (base && r !== base && total(r.kubeRequests[step]) > total(base.kubeRequests[step]))
        problems.push(
          `program N=${r.senders}: ${step} made ${total(r.kubeRequests[step])} Kubernetes requests > ${total(base.kubeRequests[step])} (N=${base.senders}): they grow with the number of senders`,
        );
    }
  }
  return problems;
}

/** The step's rows: per N and step, the floor, ours, the ratio (with the budget at 5 senders) and the Kubernetes requests. */
export function programTable(runs: readonly ProgramBenchRun[]): string {
  const rows: string[][] = [["N", "program", "floor ms", "ours ms", "ratio", "budget", "Kubernetes requests"]];
  for (const r of runs) {
    for (const step of PROGRAM_STEPS) {
      rows.push([
        String(r.senders),
        step,
        String(r.floorMs[step]),
        String(r.oursMs[step]),
        (step === "preview" ? r.previewRatio : r.noChangeUpRatio).toFixed(2),
        step === "preview" && r.senders <= 5 ? `≤ ${PROGRAM_BUDGETS.previewRatio}` : "-",
        Object.entries(r.kubeRequests[step])
          .map(([k, v]) => `${k} ${v}`)
          .join(", "),
      ]);
    }
  }
  return textTable(rows, [0, 1, 6]);
}
