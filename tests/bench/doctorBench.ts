// The bench's doctor step: `npm run doctor` (a healthy run, as a user starts it: tsx, the Pulumi CLI
// reading the stack, then every check) against the stack tests/doctor deploys on the test cluster
// (tests/bench/clusterBench.ts), at 5 and at 50 senders: its time, and its requests per system,
// which must not grow with the number of senders.
import { performance } from "node:perf_hooks";
import { expectedResults, results } from "../doctor/doctorRun";
import type { DoctorStack } from "../doctor/doctorStack";
import { median } from "./median";
import { textTable } from "./textTable";

/** One N: medians over the repetitions. */
export interface DoctorBenchRun {
  senders: number;
  /** `npm run doctor` from start to exit, as the user waits for it. */
  wallMs: number;
  /** The time the report gives (the checks, after reading the stack). */
  reportMs: number;
  /** Requests per system (Kubernetes API, kubectl exec, Vault, IMAP commands, paperless) of one run. */
  requests: Record<string, number>;
  repetitions: number;
}

export const DOCTOR_BUDGETS = {
  /** A healthy run at 5 senders against the test stack. */
  wallMs: 15_000,
} as const;

/** One N on the deployed stack `h` (its senders already at `n`): one warm-up run, then the repetitions. */
export async function measureDoctorAt(
  h: DoctorStack,
  n: number,
  repetitions: number,
  log: (line: string) => void,
): Promise<DoctorBenchRun> {
  const wall: number[] = [];
  const report: number[] = [];
  const requests: string[] = [];
  // One run before the measured ones: tsx's compile cache and the CLI's plugins warm.
  for (let rep = 0; rep <= repetitions; rep++) {
    const started = performance.now();
    const run = await h.doctor();
    const ms = performance.now() - started;
    const unhealthy = Object.entries(results(run.report!)).filter(([id, r]) => r !== expectedResults(run.report!, {})[id]);
    if (run.code !== 0 || unhealthy.length) {
      throw new Error(
        `doctor at N=${n}: not a healthy run (exit ${run.code}; ${unhealthy.map(([id, r]) => `${id} ${r}`).join(", ")}): its time would mean nothing\n${run.stdout}\n${run.stderr}`,
      );
    }
    log(
      `doctor: N=${n} ${rep ? `repetition ${rep}/${repetitions}` : "warm-up"}: ${Math.round(ms)} ms, requests ${JSON.stringify(run.report!.requests)}`,
    );
    if (!rep) continue;
    wall.push(ms);
    report.push(run.report!.seconds * 1000);
    requests.push(JSON.stringify(run.report!.requests));
  }
  if (new Set(requests).size !== 1)
    throw new Error(`doctor at N=${n}: the request counts differ between identical runs: ${requests.join(" / ")}`);
  return {
    senders: n,
    wallMs: Math.round(median(wall)),
    reportMs: Math.round(median(report)),
    requests: JSON.parse(requests[0]!),
    repetitions,
  };
}

/** Every missed budget: requests that grow with N (against the smallest N), and, when `timed`, a run at 5 senders over 15 s. */
export function doctorBudgetProblems(runs: readonly DoctorBenchRun[], timed = true): string[] {
  const problems: string[] = [];
  const base = [...runs].sort((a, b) => a.senders - b.senders)[0];
  for (const r of runs) {
    if (timed && r.senders <= 5 && r.wallMs > DOCTOR_BUDGETS.wallMs)
      problems.push(`doctor N=${r.senders}: ${r.wallMs} ms > ${DOCTOR_BUDGETS.wallMs} ms`);
    if (!base || r === base) continue;
    for (const [system, n] of Object.entries(r.requests)) {
      const was = base.requests[system] ?? 0;
      if (n > was)
        problems.push(`doctor N=${r.senders}: ${system} requests ${n} > ${was} (N=${base.senders}): they grow with the number of senders`);
    }
  }
  return problems;
}

/** The doctor's rows: time per N (with the budget at 5 senders) and the requests per system. */
export function doctorTable(runs: readonly DoctorBenchRun[]): string {
  const rows: string[][] = [["N", "doctor", "wall ms", "report ms", "budget", "requests"]];
  for (const r of runs) {
    rows.push([
      String(r.senders),
      "healthy run",
      String(r.wallMs),
      String(r.reportMs),
      r.senders <= 5 ? `≤ ${DOCTOR_BUDGETS.wallMs}` : "-",
      Object.entries(r.requests)
        .map(([k, v]) => `${k} ${v}`)
        .join(", "),
    ]);
  }
  return textTable(rows, [0, 1, 5]);
}
