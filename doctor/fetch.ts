// `--fetch`: after the checks, ask paperless to fetch every mailbox's mail now
// (providers/paperless/mailFetch.ts, POST /api/mail_accounts/{id}/process/), wait for it with a
// deadline, then run the paperless and backlog checks again on what that fetch left. The first
// run stays in the report: it shows what the scheduled fetches did (a mail-fetch check after our
// own fetch would pass whatever the scheduler does).
import { fetchAndWait } from "../providers/paperless/mailFetch";
import type { Check } from "./check";
import type { DoctorContext } from "./context";
import type { Exercise, Step } from "./output";
import { type Outcome, runChecks } from "./runner";

export async function fetchNow(ctx: DoctorContext, deadlineMs: number): Promise<Exercise> {
  const started = Date.now();
  const seconds = () => (Date.now() - started) / 1000;
  const accounts = await Promise.all(ctx.config.mailboxes.map(async (m) => ({ mailbox: m, account: await ctx.account(m) })));
  const steps: Step[] = accounts
    .filter((a) => !a.account)
    .map((a) => ({
      what: `fetch ${a.mailbox.address}`,
      status: "fail" as const,
      seconds: 0,
      detail: `no mail account ${JSON.stringify(a.mailbox.accountName)} in paperless (see paperless.account)`,
    }));
  const present = accounts.flatMap((a) => (a.account ? [{ id: a.account.id, name: a.account.name }] : []));
  if (present.length) {
    ctx.progress(`asking paperless to fetch ${present.map((a) => a.name).join(", ")} (deadline ${Math.round(deadlineMs / 1000)} s)`);
    const results = await fetchAndWait(ctx.paperless, present, { deadlineMs, onProgress: (line) => ctx.progress(`fetch: ${line}`) });
    for (const r of results) {
      steps.push({
        what: `fetch ${r.account}`,
        status: r.failed ? "fail" : r.confirmed ? "ok" : "warn",
        seconds: seconds(),
        detail: r.detail,
      });
    }
  }
  const status = steps.some((s) => s.status === "fail") ? "fail" : steps.some((s) => s.status === "warn") ? "warn" : "ok";
  return { name: "fetch", status, steps };
}

/** The fetch, then the chosen checks of the paperless group again, in a fresh context (nothing read before the fetch is taken for after it). */
export async function fetchAndCheckAgain(
  context: () => DoctorContext,
  checks: readonly Check<DoctorContext>[],
  before: readonly Outcome[],
  deadlineMs: number,
): Promise<Exercise> {
  const fetch = await fetchNow(context(), deadlineMs).catch((e: unknown): Exercise => ({
    name: "fetch",
    status: "fail",
    steps: [{ what: "fetch", status: "fail", seconds: 0, detail: (e as Error).message }],
  }));
  const again = checks.filter((c) => c.group === "paperless");
  if (!again.length) return fetch;
  const ctx = context();
  ctx.progress(`after the fetch: ${again.map((c) => c.id).join(", ")} again`);
  return { ...fetch, checks: await runChecks(again, ctx, before) };
}
