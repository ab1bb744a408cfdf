// The paperless emulator in a process of its own, driven over IPC. The benchmark measures the
// memory of the process doing the program's work; paperless is another server, so its stand-in
// must not be counted in that process's peak.
import { fork, type ChildProcess } from "child_process";
import { startPaperlessEmulator, type PaperlessEmulator } from "../paperless/paperlessEmulator";

/** What the benchmark reads after an operation. */
export interface EmulatorStats {
  /** Requests since the last reset, all routes. */
  readonly total: number;
  /** Requests since the last reset per `METHOD /api/<collection>/[{id}/]`. */
  readonly byRoute: Record<string, number>;
  /** `METHOD path` of every write since the last reset. */
  readonly writes: string[];
  readonly rules: number;
}

type Request = { cmd: "reset" } | { cmd: "stats" };
type Reply = { ok: true; value?: unknown } | { ok: false; error: string };

export interface RemoteEmulator {
  readonly url: string;
  readonly token: string;
  resetCounters(): Promise<void>;
  stats(): Promise<EmulatorStats>;
  close(): Promise<void>;
}

function statsOf(emu: PaperlessEmulator): EmulatorStats {
  return {
    total: emu.count("*"),
    byRoute: Object.fromEntries(emu.counters),
    writes: emu.writes.map((w) => `${w.method} ${w.path}`),
    rules: emu.rules.length,
  };
}

/** Start the emulator (with these paperless users besides `admin`) in a child process of the same loader. */
export function startEmulatorProcess(users: readonly string[]): Promise<RemoteEmulator> {
  const child: ChildProcess = fork(__filename, [JSON.stringify(users)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  // One request at a time: each waits for the previous reply.
  let queue: Promise<unknown> = Promise.resolve();
  const call = <T>(req: Request): Promise<T> => {
    const next = queue.then(() => new Promise<T>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`the emulator process exited (${code})`));
      child.once("exit", onExit);
      child.once("message", (reply: Reply) => {
        child.off("exit", onExit);
        if (reply.ok) resolve(reply.value as T);
        else reject(new Error(`emulator: ${reply.error}`));
      });
      child.send(req);
    }));
    queue = next.catch(() => undefined);
    return next;
  };
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`the emulator process exited before it started (${code})`)));
    child.once("message", (hello: { url: string; token: string }) => {
      child.removeAllListeners("exit");
      resolve({
        url: hello.url,
        token: hello.token,
        resetCounters: () => call<void>({ cmd: "reset" }),
        stats: () => call<EmulatorStats>({ cmd: "stats" }),
        close: () => new Promise<void>((done) => {
          child.once("exit", () => done());
          child.disconnect(); // the host stops its server and exits when the channel closes
        }),
      });
    });
  });
}

async function serve(users: string[]): Promise<void> {
  const emu = await startPaperlessEmulator({ users });
  process.on("message", (req: Request) => {
    let reply: Reply;
    if (req.cmd === "reset") {
      emu.resetCounters();
      reply = { ok: true };
    } else if (req.cmd === "stats") {
      reply = { ok: true, value: statsOf(emu) };
    } else {
      reply = { ok: false, error: `unknown command ${JSON.stringify(req)}` };
    }
    process.send!(reply);
  });
  process.once("disconnect", () => { void emu.close(); });
  process.send!({ url: emu.url, token: emu.token });
}

if (require.main === module) {
  serve(JSON.parse(process.argv[2] ?? "[]") as string[]).catch((e: unknown) => {
    process.stderr.write(`emulator host: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
