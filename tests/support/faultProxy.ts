// A fault-injecting HTTP proxy on loopback in front of a real server: the faults a real server
// cannot produce on demand (5xx, a request that hangs, a dropped connection, a write that lands
// and then answers 500, a slow answer), and a record of every request that passed.
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo } from "node:net";

export type FaultKind =
  /** Answer `status` (default 500) with a JSON `{detail}` body. */
  | "status"
  /** Never answer; the client's own timeout ends it. */
  | "hang"
  /** Drop the connection without an answer. */
  | "reset"
  /** Answer normally, `delayMs` late. */
  | "slow"
  /** Forward unchanged; only `before` runs first. */
  | "pass";

export interface Fault {
  readonly kind: FaultKind;
  /** How many matching requests get it (default 1). */
  readonly times?: number;
  /** Only requests with this method (default: any). */
  readonly method?: string;
  /** Only requests whose path (with query) matches (default: any). */
  readonly path?: RegExp;
  /** Forward the request to the server first, so it lands before the fault (status, hang, reset). Default false. */
  readonly landed?: boolean;
  readonly status?: number;
  /** Sent as Retry-After with `status`: seconds, or a string as is (an HTTP date). */
  readonly retryAfter?: number | string;
  /** status: the answer's body instead of `{detail}` (what a server or proxy echoes back). */
  readonly answerBody?: string;
  /** slow: how late the answer is (default 1000 ms). */
  readonly delayMs?: number;
  /** Runs before the request goes on (or gets its fault): what another client does just then. */
  readonly before?: () => Promise<void>;
  /** pass, slow: headers set on the server's answer (`{"x-version": "2.13.5"}`: an older server's announcement). */
  readonly answerHeaders?: Readonly<Record<string, string>>;
}

export interface ProxiedRequest {
  readonly method: string;
  /** Path and query, e.g. `/api/mail_rules/?page_size=1000`. */
  readonly path: string;
  /** The JSON body sent, if any. */
  readonly body: unknown;
  /** The request headers, as Node gives them (lower-case names). Not enumerable: they carry
   * tokens, which must not show in a failed assertion's diff, and records compare without them. */
  readonly headers: http.IncomingHttpHeaders;
  /** When it arrived (Date.now(): the clock a client reads an HTTP-date Retry-After by), not enumerable either: records compare without it. */
  readonly at: number;
  /** The fault it got, if any. */
  readonly fault?: FaultKind;
}

export interface FaultProxy {
  /** http://127.0.0.1:<port>: point the client here instead of at the server. */
  readonly url: string;
  /** Every request so far, in arrival order. */
  readonly requests: readonly ProxiedRequest[];
  /** The requests that were not GETs. */
  writes(): ProxiedRequest[];
  /** Requests matching method (`*` = any) and a path prefix (`/api/mail_rules/`; default any). */
  count(method?: string, pathPrefix?: string): number;
  /** The most requests it has had open at once since the last reset. */
  peakInFlight(): number;
  /** Queue a fault; queued faults are matched in order. */
  inject(fault: Fault): void;
  /** Forget the recorded requests and any queued fault. */
  reset(): void;
  close(): Promise<void>;
}

interface Armed {
  fault: Fault;
  left: number;
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function parseJson(raw: Buffer): unknown {
  if (!raw.length) return undefined;
  try {
    return JSON.parse(raw.toString("utf8"));
  } catch {
    return raw.toString("utf8");
  }
}

/** Forwards to `target` (https with the CA `ca`, if given) and returns the answer (status, headers, body), fully read. */
async function forward(
  target: URL,
  req: http.IncomingMessage,
  body: Buffer,
  ca?: Buffer,
): Promise<{ status: number; headers: http.OutgoingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const out = (target.protocol === "https:" ? https : http).request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: target.host },
        ...(ca ? { ca } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const headers = { ...res.headers };
          delete headers["transfer-encoding"];
          delete headers.connection;
          resolve({ status: res.statusCode ?? 502, headers, body: Buffer.concat(chunks) });
        });
        res.on("error", reject);
      },
    );
    out.on("error", reject);
    out.end(body);
  });
}

/** Starts a proxy on a free loopback port in front of `targetUrl` (http, or https trusting `opts.ca`). */
export async function startFaultProxy(targetUrl: string, opts: { ca?: Buffer } = {}): Promise<FaultProxy> {
  const target = new URL(targetUrl);
  const requests: ProxiedRequest[] = [];
  let armed: Armed[] = [];
  const hanging = new Set<http.ServerResponse>();
  let inFlight = 0;
  let peak = 0;

  const take = (method: string, path: string): Fault | undefined => {
    const a = armed.find((x) => x.left > 0 && (!x.fault.method || x.fault.method === method) && (!x.fault.path || x.fault.path.test(path)));
    if (!a) return undefined;
    a.left--;
    armed = armed.filter((x) => x.left > 0);
    return a.fault;
  };

  // Every failure ends in the catch below, which answers 502: the promise never rejects.
  const answer = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    peak = Math.max(peak, ++inFlight);
    // Done when the answer is sent (or the connection gone), whichever comes first.
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        inFlight--;
      }
    };
    res.on("finish", finish);
    res.on("close", finish);
    const at = Date.now();
    try {
      const body = await readBody(req);
      const fault = take(method, path);
      const record = { method, path, body: parseJson(body), ...(fault ? { fault: fault.kind } : {}) };
      requests.push(Object.defineProperties(record, { headers: { value: req.headers }, at: { value: at } }) as ProxiedRequest);
      await fault?.before?.();
      if (!fault || fault.kind === "slow" || fault.kind === "pass") {
        const answer = await forward(target, req, body, opts.ca);
        if (fault?.kind === "slow") await new Promise((r) => setTimeout(r, fault.delayMs ?? 1000));
        res.writeHead(answer.status, { ...answer.headers, ...fault?.answerHeaders }).end(answer.body);
        return;
      }
      if (fault.landed) await forward(target, req, body, opts.ca);
      if (fault.kind === "reset") {
        req.socket.destroy();
      } else if (fault.kind === "hang") {
        hanging.add(res);
        res.on("close", () => hanging.delete(res));
      } else {
        const status = fault.status ?? 500;
        res
          .writeHead(status, {
            "content-type": "application/json",
            ...(fault.retryAfter === undefined ? {} : { "retry-after": String(fault.retryAfter) }),
          })
          .end(fault.answerBody ?? JSON.stringify({ detail: `injected fault: ${status}` }));
      }
    } catch (e) {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" }).end(`fault proxy: ${(e as Error).message}`);
    }
  };
  const server = http.createServer((req, res) => void answer(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    writes: () => requests.filter((r) => r.method !== "GET"),
    count: (method = "*", pathPrefix = "") =>
      requests.filter((r) => (method === "*" || r.method === method) && r.path.startsWith(pathPrefix)).length,
    inject: (fault) => {
      armed.push({ fault, left: fault.times ?? 1 });
    },
    peakInFlight: () => peak,
    reset: () => {
      requests.length = 0;
      armed = [];
      peak = inFlight;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.socket?.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
