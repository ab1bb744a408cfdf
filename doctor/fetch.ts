// `--fetch`: ask paperless to fetch every mailbox's mail now (providers/paperless/mailFetch.ts,
// POST /api/mail_accounts/{id}/process/) and wait for it with a deadline, before the checks read
// anything: the paperless and backlog checks then describe the state after that fetch.
import { fetchAndWait } from "../providers/paperless/mailFetch";
import type { DoctorContext } from "./context";
import type { Exercise, Step } from "./output";

export async function fetchNow(ctx: DoctorContext, deadlineMs: number): Promise<Exercise> {
  const started = Date.now();
  const seconds = () => (Date.now() - started) / 1000;
  const accounts = await Promise.all(ctx.config.mailboxes.map(async (m) => ({ mailbox: m, account: await ctx.account(m) })));
  const steps: Step[] = accounts.filter((a) => !a.account).map((a) => ({
    what: `fetch ${a.mailbox.address}`, status: "fail" as const, seconds: 0,
    detail: `no mail account ${JSON.stringify(a.mailbox.accountName)} in paperless (see paperless.account)`,
  }));
  const present = accounts.flatMap((a) => (a.account ? [{ id: a.account.id, name: a.account.name }] : []));
  if (present.length) {
    ctx.progress(`asking paperless to fetch ${present.map((a) => a.name).join(", ")} (deadline ${Math.round(deadlineMs / 1000)} s)`);
    const results = await fetchAndWait(ctx.paperless, present, { deadlineMs, onProgress: (line) => ctx.progress(`fetch: ${line}`) });
    for (const r of results) {
      steps.push({ what: `fetch ${r.account}`, status: r.failed ? "fail" : r.confirmed ? "ok" : "warn", seconds: seconds(), detail: r.detail });
    }
  }
  const status = steps.some((s) => s.status === "fail") ? "fail" : steps.some((s) => s.status === "warn") ? "warn" : "ok";
  return { name: "fetch", status, steps };
}
