// npm run render -- [--config Pulumi.prod.yaml] [--out rendered]
// Validates a stack file and writes every artifact the stack would deploy that needs no secret: the
// sieves, the paperless plan, the mailserver side (alias blocks, Deployment patch, sieve ConfigMaps).
// No network, no credentials, no Pulumi CLI. A bad config or an unusable --out prints the problem,
// exits 1 and writes nothing.
import { join, resolve } from "path";
import { parseArgs } from "util";
import { renderArtifacts } from "../core/artifacts";
import { isConfigError } from "../stack/config";
import { readStackFile } from "../stack/stackConfig";
import { isOutError, writeAllOrNothing } from "./outputFiles";

const USAGE = `usage: npm run render -- [--config <stack yaml>] [--out <dir>]
  --config <file>  the stack file to validate and render (default: Pulumi.prod.yaml)
  --out <dir>      where to write the artifacts (default: rendered); all of them or none
  --help           print this and exit`;

function main(argv: string[]): number {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        config: { type: "string", default: "Pulumi.prod.yaml" },
        out: { type: "string", default: "rendered" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }).values;
  } catch (e) {
    console.error(`render: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  try {
    const { config, warnings } = readStackFile(args.config);
    for (const warning of warnings) console.error(`warning: ${warning}`);
    // Render all of it in memory first, so a failure part-way leaves no partial output.
    const files = renderArtifacts(config);
    writeAllOrNothing(resolve(args.out), args.out, files);
    for (const name of files.keys()) console.log(`wrote ${join(args.out, name)}`);
    const senders = config.mailboxes.reduce((n, m) => n + m.senders.length, 0);
    console.log(`rendered ${config.mailboxes.length} mailbox(es), ${senders} sender(s) from ${args.config}`);
    console.log("not rendered: the account lines of postfix-accounts.cf (they hash the mailbox passwords held in Vault)");
    return 0;
  } catch (e) {
    if (isConfigError(e)) {
      console.error(e.message);
      console.error("nothing was written.");
      return 1;
    }
    if (isOutError(e)) {
      console.error(`render: ${e.message}; ${e.leftOver.length ? `could not put back ${e.leftOver.join(", ")}` : "nothing was written"}.`);
      return 1;
    }
    throw e;
  }
}

process.exitCode = main(process.argv.slice(2));
