// The binaries the real-server tests run (the Pulumi CLI, language host and provider plugins, etcd,
// kube-apiserver, kube-controller-manager, kubectl, Reloader, Vault): built and cached outside the
// clone by scripts/build-tools.sh, found here through its `--bin-dir`.
import { execFileSync } from "node:child_process";
import { join } from "node:path";

const ROOT = join(__dirname, "..", "..");

let binDir: string | undefined;

/**
 * The one directory holding every tool binary. Throws (never skips) when a tool is missing or out
 * of date, with the script's own message: each such tool and the command that builds it.
 */
export function toolsBinDir(): string {
  if (binDir) return binDir;
  try {
    const out = execFileSync("bash", [join(ROOT, "scripts", "build-tools.sh"), "--bin-dir"], {
      cwd: ROOT,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    binDir = out.trim().split("\n").pop()!;
    return binDir;
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr?.trim();
    throw new Error(`The tools the tests run are not built:\n${stderr || String(e)}`);
  }
}
