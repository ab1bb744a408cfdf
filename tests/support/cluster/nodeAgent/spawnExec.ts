// Runs a host command as a container's exec: streams wired to the exec's, exit code returned.
import { spawn } from "node:child_process";
import type { ExecIo } from "./runtime";

export function spawnExec(
  command: string,
  args: readonly string[],
  io: ExecIo,
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: [io.stdin ? "pipe" : "ignore", "pipe", "pipe"],
    });
    if (io.stdin) io.stdin.pipe(child.stdin!);
    child.stdout!.pipe(io.stdout, { end: false });
    child.stderr!.pipe(io.stderr, { end: false });
    child.on("error", (e) => {
      io.stderr.write(`${e.message}\n`);
      resolve(126);
    });
    child.on("close", (code, signal) => resolve(code ?? (signal ? 128 + 15 : 1)));
  });
}
