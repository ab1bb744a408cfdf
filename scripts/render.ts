// npm run render -- [--config Pulumi.prod.yaml] [--out rendered]
// Validates a stack file and writes every artifact the stack would deploy. No network, no
// credentials, no Pulumi CLI. A bad config prints every problem, exits 1 and writes nothing.
import { mkdirSync, writeFileSync } from "fs";
import { join, resolve } from "path";
import { parseArgs } from "util";
import { renderArtifacts } from "../core/artifacts";
import { ConfigError } from "../core/config";
import { loadStackFile } from "../core/stackConfig";

function main(argv: string[]): number {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: { config: { type: "string", default: "Pulumi.prod.yaml" }, out: { type: "string", default: "rendered" } },
      strict: true,
    }).values;
  } catch (e) {
    console.error(`render: ${(e as Error).message}\nusage: npm run render -- [--config <stack yaml>] [--out <dir>]`);
    return 2;
  }
  const out = resolve(args.out);
  try {
    const config = loadStackFile(args.config);
    // Render all of it in memory first, so a failure part-way leaves no partial output.
    const files = renderArtifacts(config);
    mkdirSync(out, { recursive: true });
    for (const [name, content] of files) {
      writeFileSync(join(out, name), content);
      console.log(`wrote ${join(args.out, name)}`);
    }
    const senders = config.mailboxes.reduce((n, m) => n + m.senders.length, 0);
    console.log(`rendered ${config.mailboxes.length} mailbox(es), ${senders} sender(s) from ${args.config}`);
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      console.error("nothing was written.");
      return 1;
    }
    throw e;
  }
}

process.exitCode = main(process.argv.slice(2));
