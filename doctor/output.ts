// The report, as text in the shape of `linkerd check` (groups, one line per check with ✔ ‼ ×,
// what is wrong and the fix under it) or as one JSON document with the same content. Every text
// passes through redact with the run's secrets last, so no token or password can be printed.
import { redact } from "../providers/redact";
import { type Check, GROUPS, type Status } from "./check";
import type { Outcome } from "./runner";

const MARK: Record<Status, string> = { ok: "✔", warn: "‼", fail: "×" };
const RESULT: Record<Status, "success" | "warning" | "error"> = { ok: "success", warn: "warning", fail: "error" };

/** A timed step of --fetch or --canary: what happened, how long it took, and whether it worked. */
export interface Step {
  readonly what: string;
  readonly status: Status;
  readonly seconds: number;
  readonly detail?: string;
}

/** --fetch or --canary: its steps in order, a verdict, and what was cleaned up. */
export interface Exercise {
  readonly name: "fetch" | "canary";
  readonly status: Status;
  readonly steps: readonly Step[];
  /** What the canary removed again (and what it could not). */
  readonly cleanup?: readonly string[];
  /** --fetch: the paperless and backlog checks, run again after the fetch. */
  readonly checks?: readonly Outcome[];
}

export interface Report {
  readonly stack: string;
  readonly outcomes: readonly Outcome[];
  readonly exercises: readonly Exercise[];
  readonly seconds: number;
  /** Requests made per system (Kubernetes API, kubectl exec, Vault, IMAP commands, paperless). */
  readonly requests: Readonly<Record<string, number>>;
}

export function summary(report: Report): { failed: number; warnings: number } {
  // A check run again after --fetch counts as well: a failure before the fetch (no scheduled fetch
  // took the mail) stays a failure when the doctor's own fetch cleared it.
  const statuses = [...report.outcomes, ...report.exercises.flatMap((e) => e.checks ?? [])]
    .map((o) => o.result.status)
    .concat(report.exercises.map((e) => e.status));
  return { failed: statuses.filter((s) => s === "fail").length, warnings: statuses.filter((s) => s === "warn").length };
}

/** One line per check, each problem and its fix under it. */
function checkLines(outcomes: readonly Outcome[]): string[] {
  const width = Math.max(...outcomes.map((o) => o.id.length));
  return outcomes.flatMap((o) => [
    `${MARK[o.result.status]} ${o.id.padEnd(width)}  ${o.description}${o.result.note ? ` (${o.result.note})` : ""}`,
    ...o.result.problems.flatMap((p) => [`    ${MARK[p.status]} ${p.message}`, `      fix: ${p.fix}`]),
  ]);
}

export function renderText(report: Report, secrets: readonly string[]): string {
  const out: string[] = [`paperless-mail-ingest doctor, stack ${report.stack}`, ""];
  for (const group of GROUPS) {
    const outcomes = report.outcomes.filter((o) => o.group === group.id);
    if (!outcomes.length) continue;
    out.push(group.title, "-".repeat(group.title.length), ...checkLines(outcomes), "");
  }
  for (const e of report.exercises) {
    out.push(`--${e.name}`, "-".repeat(e.name.length + 2));
    for (const s of e.steps) out.push(`${MARK[s.status]} ${s.what} (${s.seconds.toFixed(1)} s)${s.detail ? `: ${s.detail}` : ""}`);
    for (const c of e.cleanup ?? []) out.push(`    cleanup: ${c}`);
    if (e.checks?.length) out.push(`after the ${e.name}:`, ...checkLines(e.checks));
    out.push("");
  }
  const { failed, warnings } = summary(report);
  out.push(
    `requests: ${Object.entries(report.requests)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
  );
  out.push(
    failed
      ? `× ${failed} failed, ${warnings} warning(s) (${report.seconds.toFixed(1)} s)`
      : warnings
        ? `‼ no check failed, ${warnings} warning(s) (${report.seconds.toFixed(1)} s)`
        : `✔ all checks passed (${report.seconds.toFixed(1)} s)`,
  );
  return redact(out.join("\n") + "\n", secrets);
}

const checkJson = (o: Outcome) => ({
  id: o.id,
  description: o.description,
  result: RESULT[o.result.status],
  ...(o.result.note ? { note: o.result.note } : {}),
  problems: o.result.problems.map((p) => ({ result: RESULT[p.status], error: p.message, hint: p.fix })),
});

export function renderJson(report: Report, secrets: readonly string[]): string {
  const { failed, warnings } = summary(report);
  const doc = {
    stack: report.stack,
    success: failed === 0,
    failed,
    warnings,
    seconds: Math.round(report.seconds * 10) / 10,
    requests: report.requests,
    categories: GROUPS.filter((g) => report.outcomes.some((o) => o.group === g.id)).map((g) => ({
      categoryName: g.id,
      checks: report.outcomes.filter((o) => o.group === g.id).map(checkJson),
    })),
    ...Object.fromEntries(
      report.exercises.map((e) => [
        e.name,
        {
          result: RESULT[e.status],
          steps: e.steps.map((s) => ({
            what: s.what,
            result: RESULT[s.status],
            seconds: Math.round(s.seconds * 10) / 10,
            ...(s.detail ? { detail: s.detail } : {}),
          })),
          ...(e.cleanup ? { cleanup: e.cleanup } : {}),
          ...(e.checks ? { checks: e.checks.map(checkJson) } : {}),
        },
      ]),
    ),
  };
  return redact(JSON.stringify(doc, null, 2) + "\n", secrets);
}

/** `--list-checks`: id, group and description of every check, in run order. */
export function renderList(checks: readonly Check<unknown>[], json: boolean): string {
  if (json)
    return (
      JSON.stringify(
        checks.map((c) => ({ id: c.id, group: c.group, description: c.description, needs: c.needs ?? [] })),
        null,
        2,
      ) + "\n"
    );
  const width = Math.max(...checks.map((c) => c.id.length));
  return checks.map((c) => `${c.id.padEnd(width)}  ${c.description}`).join("\n") + "\n";
}
