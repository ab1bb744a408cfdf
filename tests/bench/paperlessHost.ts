// A real paperless-ngx (3.0.5) and the counting proxy in front of it, in a process of its own,
// driven over IPC. The benchmark measures the memory of the process doing the program's work;
// paperless and the proxy are other servers and must not be counted in that process's peak.
import { fork, type ChildProcess } from "child_process";
import { startFaultProxy, type FaultProxy } from "../support/faultProxy";
import { admin } from "../support/paperless/admin";
import { startPaperless } from "../support/paperless/server";

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

export interface RemotePaperless {
  readonly url: string;
  readonly token: string;
  resetCounters(): Promise<void>;
  stats(): Promise<EmulatorStats>;
  close(): Promise<void>;
}

/** `GET /api/mail_rules/`, `PATCH /api/mail_rules/{id}/`: the query dropped, ids generalised. */
const route = (method: string, path: string) => `${method} ${path.split("?")[0]!.replace(/\/\d+\//g, "/{id}/")}`;

async function statsOf(proxy: FaultProxy, rules: () => Promise<number>): Promise<EmulatorStats> {
  const byRoute: Record<string, number> = {};
  for (const r of proxy.requests) byRoute[route(r.method, r.path)] = (byRoute[route(r.method, r.path)] ?? 0) + 1;
  return { total: proxy.requests.length, byRoute, writes: proxy.writes().map((w) => `${w.method} ${w.path}`), rules: await rules() };
}

/** Start paperless (with these users besides `admin`) and its proxy in a child process of the same loader. */
export function startPaperlessProcess(users: readonly string[]): Promise<RemotePaperless> {
  const child: ChildProcess = fork(__filename, [JSON.stringify(users)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  // One request at a time: each waits for the previous reply.
  let queue: Promise<unknown> = Promise.resolve();
  const call = <T>(req: Request): Promise<T> => {
    const next = queue.then(() => new Promise<T>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`the paperless host process exited (${code})`));
      child.once("exit", onExit);
      child.once("message", (reply: Reply) => {
        child.off("exit", onExit);
        if (reply.ok) resolve(reply.value as T);
        else reject(new Error(`paperless host: ${reply.error}`));
      });
      child.send(req);
    }));
    queue = next.catch(() => undefined);
    return next;
  };
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`the paperless host process exited before it started (${code})`)));
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
  const server = await startPaperless("3.0.5", { users });
  const proxy = await startFaultProxy(server.url);
  const api = admin(server);
  const rules = async () => (await api.list("/api/mail_rules/")).length;
  process.on("message", (req: Request) => {
    const answer = async (): Promise<Reply> => {
      if (req.cmd === "reset") {
        proxy.reset();
        return { ok: true };
      }
      if (req.cmd === "stats") return { ok: true, value: await statsOf(proxy, rules) };
      return { ok: false, error: `unknown command ${JSON.stringify(req)}` };
    };
    void answer().catch((e: unknown) => ({ ok: false, error: String(e) }) as Reply).then((reply) => process.send!(reply));
  });
  process.once("disconnect", () => { void proxy.close().then(() => server.stop()).then(() => process.exit(0)); });
  process.send!({ url: proxy.url, token: server.token });
}

if (require.main === module) {
  serve(JSON.parse(process.argv[2] ?? "[]") as string[]).catch((e: unknown) => {
    process.stderr.write(`paperless host: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
