// `npm run doctor` as a user runs it (tsx scripts/doctor.ts), against a stack of the real Pulumi CLI
// (tests/support/programStack.ts), with that stack's environment; and readers of its JSON report.
import { execFile } from "node:child_process";
import { join } from "node:path";
import type { ProgramStack } from "../support/programStack";

const ROOT = join(__dirname, "..", "..");

export interface CheckReport {
  id: string;
  result: "success" | "warning" | "error";
  note?: string;
  problems: { result: string; error: string; hint: string }[];
}

export interface DoctorReport {
  success: boolean;
  failed: number;
  warnings: number;
  seconds: number;
  requests: Record<string, number>;
  categories: { categoryName: string; checks: CheckReport[] }[];
  /** --fetch: its steps, and the paperless and backlog checks run again after it. */
  fetch?: { result: string; steps: { what: string; result: string; seconds: number; detail?: string }[]; checks?: CheckReport[] };
  canary?: { result: string; steps: { what: string; result: string; seconds: number; detail?: string }[]; cleanup?: string[] };
}

export interface DoctorRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The parsed report of a --json run that got as far as one. */
  readonly report?: DoctorReport;
  readonly ms: number;
}

export function runDoctor(stack: ProgramStack, args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<DoctorRun> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--require", "tsx/cjs", join(ROOT, "scripts", "doctor.ts"), "--stack", stack.name, ...args],
      { cwd: ROOT, env: { ...stack.env, ...env }, maxBuffer: 64 << 20, timeout: 600_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        let report: DoctorReport | undefined;
        try {
          report = args.includes("--json") && stdout.trim() ? (JSON.parse(stdout) as DoctorReport) : undefined;
        } catch {
          report = undefined;
        }
        resolve({ code, stdout, stderr, ...(report ? { report } : {}), ms: Date.now() - started });
      },
    );
  });
}

/** Which run of the checks: the first, or the one again after --fetch. */
export type Run = "first" | "after fetch";

export function checks(report: DoctorReport, run: Run = "first"): Map<string, CheckReport> {
  const list = run === "first" ? report.categories.flatMap((c) => c.checks) : (report.fetch?.checks ?? []);
  return new Map(list.map((k) => [k.id, k] as const));
}

/** id -> result of every check. */
export function results(report: DoctorReport, run: Run = "first"): Record<string, string> {
  return Object.fromEntries([...checks(report, run)].map(([id, c]) => [id, c.result]));
}

/** Every check's result, with `expected` for the named ones and success for all others. */
export function expectedResults(
  report: DoctorReport,
  expected: Readonly<Record<string, "warning" | "error">>,
  run: Run = "first",
): Record<string, string> {
  return Object.fromEntries([...checks(report, run).keys()].map((id) => [id, expected[id] ?? "success"]));
}

/** The problems of one check, as `error` and `hint` lines joined (for toMatch). */
export function problemText(report: DoctorReport, id: string, run: Run = "first"): string {
  return (checks(report, run).get(id)?.problems ?? []).map((p) => `${p.error}\n${p.hint}`).join("\n");
}
