// Runs the chosen checks: each as soon as the checks it needs are done (independent ones at the
// same time, so a run waits for the slowest system, not the sum), a check whose need failed is
// reported as not checked, and a check that throws fails with what it threw.
import { type CodedError, codedError, hasCode } from "../core/codedError";
import { type Check, type CheckResult, fixFor, type Group } from "./check";

export interface Outcome {
  readonly id: string;
  readonly group: Group;
  readonly description: string;
  readonly result: CheckResult;
}

const FIXABLE_ERROR = "FIXABLE_ERROR";

/**
 * An error that says how to fix it: what the context's readers throw (an unreachable server, a
 * rejected token). A check that lets one through fails with its message and fix.
 */
export type FixableError = CodedError<typeof FIXABLE_ERROR, { fix: string; notChecked: boolean }>;

/** `notChecked`: the doctor may not look (a refused permission): a warning, never a pass nor a failure. */
export function fixable(message: string, fix: string, opts: { notChecked?: boolean } = {}): FixableError {
  return codedError(FIXABLE_ERROR, message, { fix, notChecked: opts.notChecked === true });
}

const isFixable = (e: unknown): e is FixableError => hasCode(e, FIXABLE_ERROR);

/** The checks to run for `only` (one id): it and, transitively, what it needs; all when undefined. */
export function selectChecks<C>(all: readonly Check<C>[], only?: string): Check<C>[] {
  if (only === undefined) return [...all];
  const byId = new Map(all.map((c) => [c.id, c]));
  const wanted = new Set<string>();
  const visit = (id: string) => {
    if (wanted.has(id)) return;
    const check = byId.get(id);
    if (!check) throw new Error(`--check ${id}: no such check (\`npm run doctor -- --list-checks\` lists them)`);
    wanted.add(id);
    for (const need of check.needs ?? []) visit(need);
  };
  visit(only);
  return all.filter((c) => wanted.has(c.id));
}

/** `known`: results of an earlier run for needs outside `checks` (the checks run again after --fetch). */
export async function runChecks<C>(checks: readonly Check<C>[], ctx: C, known: readonly Outcome[] = []): Promise<Outcome[]> {
  const results = new Map<string, Promise<CheckResult>>();
  /** Checks not run because a need failed or was itself not run: what needs them is not run either. */
  const skipped = new Set<string>();
  const run = (check: Check<C>): Promise<CheckResult> => {
    let pending = results.get(check.id);
    if (pending) return pending;
    pending = (async (): Promise<CheckResult> => {
      const needs = (check.needs ?? []).flatMap((id) => {
        const need = checks.find((c) => c.id === id);
        const earlier = known.find((o) => o.id === id);
        return need ? [{ id, result: run(need) }] : earlier ? [{ id, result: Promise.resolve(earlier.result) }] : [];
      });
      const why: string[] = [];
      for (const n of needs) {
        if ((await n.result).status === "fail") why.push(`${n.id} failed`);
        else if (skipped.has(n.id)) why.push(`${n.id} was not checked`);
      }
      if (why.length) {
        skipped.add(check.id);
        return {
          status: "warn",
          problems: [
            {
              status: "warn",
              message: `not checked: ${why.join(", ")}`,
              fix: fixFor(check.id, `fix ${why.length > 1 ? "those" : "that"} first`),
            },
          ],
        };
      }
      try {
        return await check.run(ctx);
      } catch (e) {
        const message = (e as Error).message ?? String(e);
        const fix = fixFor(check.id, isFixable(e) ? e.fix : "see the message");
        return isFixable(e) && e.notChecked
          ? { status: "warn", problems: [{ status: "warn", message: `not checked: ${message}`, fix }] }
          : { status: "fail", problems: [{ status: "fail", message, fix }] };
      }
    })();
    results.set(check.id, pending);
    return pending;
  };
  return Promise.all(checks.map(async (c) => ({ id: c.id, group: c.group, description: c.description, result: await run(c) })));
}
