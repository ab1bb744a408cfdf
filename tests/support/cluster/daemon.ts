// A server process of the test cluster: started in the background with its output in a log
// file, waited for until it answers, stopped by its own pid. If the test process dies without
// stopping it, the kernel kills it too (setpriv --pdeathsig), so no daemon outlives a crashed run.
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";

export interface Daemon {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** The last lines of its log, for error messages. */
  logTail(lines?: number): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

const PDEATHSIG = existsSync("/usr/bin/setpriv") ? ["/usr/bin/setpriv", "--pdeathsig", "KILL", "--"] : [];

// Killed synchronously when the test process exits normally without having stopped them.
const running = new Set<Daemon>();
process.once("exit", () => {
  for (const d of running)
    try {
      process.kill(d.pid, "SIGKILL");
    } catch {
      /* gone */
    }
});

export function startDaemon(
  name: string,
  command: string,
  args: readonly string[],
  opts: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string },
): Daemon {
  const fd = openSync(opts.logFile, "a");
  const [file, ...argv] = [...PDEATHSIG, command, ...args];
  const child = spawn(file!, argv, { stdio: ["ignore", fd, fd], env: opts.env ?? process.env, cwd: opts.cwd });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? "?")));
  const daemon: Daemon = {
    name,
    pid: child.pid,
    logFile: opts.logFile,
    exited,
    logTail: (lines = 20) => {
      try {
        return readFileSync(opts.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
      } catch {
        return "";
      }
    },
    async stop(graceMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
      }
      running.delete(daemon);
    },
  };
  running.add(daemon);
  void exited.then(() => running.delete(daemon));
  return daemon;
}

/**
 * Polls `ready` until it returns true. Fails early, with the daemon's log, when the daemon exits,
 * and after `timeoutMs` naming what was awaited.
 */
export async function waitReady(
  daemon: Daemon,
  what: string,
  ready: () => Promise<boolean>,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let exit: number | string | undefined;
  void daemon.exited.then((c) => (exit = c));
  for (;;) {
    if (exit !== undefined) throw new Error(`${daemon.name} exited (${exit}) before ${what}; log ${daemon.logFile}:\n${daemon.logTail()}`);
    if (await ready().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(`${daemon.name}: ${what} not within ${opts.timeoutMs ?? 60_000} ms; log ${daemon.logFile}:\n${daemon.logTail()}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}
