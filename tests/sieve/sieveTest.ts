// Runs a sieve script through the real Pigeonhole tools (sievec, sieve-test) from Debian's dovecot-sieve.
import { execFileSync, spawnSync } from "child_process";
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";

export type Outcome = "keep" | "discard";

// As root, sieve-test must drop to an unprivileged uid and needs a directory it may write the binary to.
const isRoot = process.getuid?.() === 0;
const ROOT_OPTS = isRoot ? ["-o", "mail_uid=65534", "-o", "mail_gid=65534", "-o", "first_valid_uid=0", "-o", "first_valid_gid=0"] : [];

export class SieveRunner {
  private readonly dir = mkdtempSync(join(tmpdir(), "sieve-"));
  private readonly script = join(this.dir, "allowlist.sieve");

  constructor(text: string) {
    chmodSync(this.dir, 0o755);
    if (isRoot) chownSync(this.dir, 65534, 65534);
    writeFileSync(this.script, text);
    // Dovecot keeps mail when a script fails to compile, so a compile error must fail loudly here.
    execFileSync("sievec", [this.script, join(this.dir, "allowlist.svbin")], { stdio: "pipe" });
  }

  /** What delivery would do with this message: keep (INBOX) or discard. */
  outcome(message: string): Outcome {
    const eml = join(this.dir, "message.eml");
    writeFileSync(eml, message);
    const run = spawnSync("sieve-test", [...ROOT_OPTS, this.script, eml], { encoding: "utf8" });
    if (run.status !== 0) throw new Error(`sieve-test failed (${run.status}): ${run.stderr}${run.stdout}`);
    const [performed = "", implicit = ""] = run.stdout.split("Implicit keep:");
    const kept = /store message in folder/.test(implicit) || /store message in folder|\* keep/.test(performed);
    const discarded = /\* discard/.test(performed);
    if (kept === discarded) throw new Error(`unexpected sieve-test result:\n${run.stdout}`);
    return kept ? "keep" : "discard";
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
