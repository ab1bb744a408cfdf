// `npm run doctor`: checks that the deployed stack works, system by system along the mail's path,
// and names the broken link (README.md#doctor). Read-only but for --fetch (a fetch) and --canary
// (one mail and its document, removed again). Exit 0 when no check failed, 1 when one
// did, 2 when the doctor itself could not run (bad arguments, an unreadable or invalid stack,
// missing credentials).
import { parseArgs, USAGE } from "../doctor/args";
import { DoctorContext, totalRequests } from "../doctor/context";
import { runCanary } from "../doctor/canary";
import { fetchAndCheckAgain } from "../doctor/fetch";
import { type Exercise, renderJson, renderList, renderText, type Report, summary } from "../doctor/output";
import { CHECKS } from "../doctor/registry";
import { runChecks, selectChecks } from "../doctor/runner";
import { isSetupError, readStack } from "../doctor/stackSource";

async function main(argv: readonly string[]): Promise<number> {
  const started = Date.now();
  let args;
  let checks;
  try {
    args = parseArgs(argv);
    checks = selectChecks(CHECKS, args.check);
  } catch (e) {
    process.stderr.write(`doctor: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.listChecks) {
    process.stdout.write(renderList(CHECKS, args.json));
    return 0;
  }
  let stack;
  try {
    stack = await readStack(args.stack);
  } catch (e) {
    if (!isSetupError(e)) throw e;
    process.stderr.write(`doctor: ${e.message}\n`);
    return 2;
  }
  const progress = (line: string) => process.stderr.write(`doctor: ${line}\n`);
  for (const warning of stack.warnings) progress(`warning: ${warning}`);
  const since = new Date(Date.now() - args.sinceMs);
  const exercises: Exercise[] = [];
  // Every context the run reads through, for its request count.
  const contexts: DoctorContext[] = [];
  const context = () => {
    const c = new DoctorContext(stack, since, progress);
    contexts.push(c);
    return c;
  };
  const ctx = context();
  const outcomes = await runChecks(checks, ctx);
  if (args.fetch) exercises.push(await fetchAndCheckAgain(context, checks, outcomes, args.deadlineMs));
  if (args.canary) {
    exercises.push(
      await runCanary(ctx, args.deadlineMs).catch((e: unknown): Exercise => ({
        name: "canary",
        status: "fail",
        steps: [{ what: "canary", status: "fail", seconds: 0, detail: (e as Error).message }],
      })),
    );
  }
  const report: Report = {
    stack: stack.name,
    outcomes,
    exercises,
    seconds: (Date.now() - started) / 1000,
    requests: totalRequests(contexts),
  };
  process.stdout.write(args.json ? renderJson(report, stack.secrets) : renderText(report, stack.secrets));
  return summary(report).failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`doctor: could not run: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 2;
  },
);
