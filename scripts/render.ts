// npm run render -- [--config Pulumi.prod.yaml] [--out rendered]
// Validates a stack file and writes every artifact the stack would deploy that needs no secret: the
// sieves, the paperless plan, the mailserver side (alias blocks, Deployment patch, sieve ConfigMaps).
// No network, no credentials, no Pulumi CLI. A bad config or an unusable --out prints the problem,
// exits 1 and writes nothing.
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from "fs";
import { dirname, join, resolve } from "path";
import { parseArgs } from "util";
import { renderArtifacts } from "../core/artifacts";
import { ConfigError } from "../core/config";
import { loadStackFile } from "../core/stackConfig";

/** An output problem the user can fix, reported in one line. */
class OutError extends Error {}

function describe(e: unknown): string {
  const { code, message } = e as NodeJS.ErrnoException;
  return code ? `${code} (${message.replace(/^[A-Z]+: /, "").replace(/, \w+ '.*'$/, "")})` : String(message);
}

/** A directory that must be (or become) a directory we may write: checked and made one level at a time. */
function ensureDirectory(dir: string, shown: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new OutError(`--out ${shown}: ${dir} is a file, not a directory`);
    try {
      accessSync(dir, constants.W_OK);
    } catch (e) {
      throw new OutError(`--out ${shown}: cannot write in ${dir}: ${describe(e)}`);
    }
    return;
  }
  // Not mkdirSync({ recursive }): on some file systems (/proc) it never returns.
  ensureDirectory(dirname(dir), shown);
  try {
    mkdirSync(dir);
  } catch (e) {
    throw new OutError(`--out ${shown}: cannot create ${dir}: ${describe(e)}`);
  }
}

/** Write every file into a staging directory inside `out`, then move each into place. */
function writeAll(out: string, shown: string, files: Map<string, string>): void {
  ensureDirectory(out, shown);
  for (const name of files.keys()) {
    const parent = dirname(join(out, name));
    if (parent !== out) ensureDirectory(parent, shown);
  }
  let staging: string;
  try {
    staging = mkdtempSync(join(out, ".render-"));
  } catch (e) {
    throw new OutError(`--out ${shown}: cannot write in ${out}: ${describe(e)}`);
  }
  try {
    for (const [name, content] of files) {
      const path = join(staging, name.replaceAll("/", "%2F"));
      try {
        writeFileSync(path, content);
      } catch (e) {
        throw new OutError(`--out ${shown}: cannot write ${join(out, name)}: ${describe(e)}`);
      }
    }
    for (const name of files.keys()) renameSync(join(staging, name.replaceAll("/", "%2F")), join(out, name));
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

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
  try {
    const config = loadStackFile(args.config);
    // Render all of it in memory first, so a failure part-way leaves no partial output.
    const files = renderArtifacts(config);
    writeAll(resolve(args.out), args.out, files);
    for (const name of files.keys()) console.log(`wrote ${join(args.out, name)}`);
    const senders = config.mailboxes.reduce((n, m) => n + m.senders.length, 0);
    console.log(`rendered ${config.mailboxes.length} mailbox(es), ${senders} sender(s) from ${args.config}`);
    console.log("not rendered: the account lines of postfix-accounts.cf (they hash the mailbox passwords held in Vault)");
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      console.error("nothing was written.");
      return 1;
    }
    if (e instanceof OutError) {
      console.error(`render: ${e.message}; nothing was written.`);
      return 1;
    }
    throw e;
  }
}

process.exitCode = main(process.argv.slice(2));
