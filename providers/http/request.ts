// One HTTP request of the paperless and Vault clients: a deadline per attempt, retries of requests
// that may be sent again (retry.ts), at most so many in flight, and no secret in what a failure
// shows. The clients keep their paths, auth headers and what an answer means
// (docs/architecture.md#http-requests).
import * as http from "node:http";
import * as https from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { redact } from "../redact";
import { idempotent, retryAfterMs, retryDelay, transient } from "./retry";
import type { HttpSettings } from "./settings";

/** TLS settings of the request's own, which Node's fetch cannot take: node:https carries such a request. */
export interface Tls {
  /** The CA to trust instead of the system's. */
  readonly ca?: Buffer;
  readonly skipVerify?: boolean;
}

export interface HttpRequest {
  readonly method: string;
  /** Absolute URL. */
  readonly url: string;
  /** The client's own headers (auth, Accept); Content-Type is added for a body. */
  readonly headers: Readonly<Record<string, string>>;
  /** Sent as JSON. */
  readonly body?: unknown;
  /** Values nothing this returns for a failure may show: the token, a password. */
  readonly secrets: readonly string[];
  /** May it be sent again after a failure? Default: for an idempotent method (retry.ts). */
  readonly retry?: boolean;
  /** Shared by the requests to one server: at most so many of them in flight. */
  readonly limit?: InFlightLimit;
  readonly tls?: Tls;
}

/** The server's answer, whatever its status; the body of a failed one (status ≥ 400) has the secrets redacted. */
export interface HttpAnswer {
  readonly kind: "answer";
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

/** No answer: the deadline passed, or no connection or exchange was possible (DNS, refused, reset, TLS). */
export interface NoAnswer {
  readonly kind: "timeout" | "unreachable";
  /** Node's error code (ECONNREFUSED, DEPTH_ZERO_SELF_SIGNED_CERT, …); ETIMEDOUT for the deadline. */
  readonly code: string;
  /** Node's own words (`connect ECONNREFUSED 127.0.0.1:8200`), or the deadline's. */
  readonly cause: string;
  /** `timed out after 30000 ms`, `connection failed (ECONNRESET)` */
  readonly detail: string;
  /** `GET /api/tags/ → no response: timed out after 30000 ms` */
  readonly message: string;
  readonly deadlineMs: number;
}

/** Requests in flight to one server, at most `max`; an attempt holds a slot, a pause between attempts does not. */
export class InFlightLimit {
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly max: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    // A finished request hands its slot straight to the next waiter, so no newcomer slips in between.
    if (this.inFlight >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.inFlight++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.inFlight--;
    }
  }
}

type Exchanged = { status: number; headers: Headers; text: string };

function viaFetch(req: HttpRequest, payload: string | undefined, signal: AbortSignal): Promise<Exchanged> {
  return fetch(req.url, { method: req.method, headers: req.headers, body: payload, signal }).then(async (res) => ({
    status: res.status,
    headers: res.headers,
    text: await res.text(),
  }));
}

function viaNodeHttps(req: HttpRequest, tls: Tls, payload: string | undefined, signal: AbortSignal): Promise<Exchanged> {
  const url = new URL(req.url);
  const transport = url.protocol === "http:" ? http : https;
  return new Promise((resolve, reject) => {
    const out = transport.request(
      url,
      {
        method: req.method,
        headers: req.headers,
        signal,
        ...(tls.ca ? { ca: tls.ca } : {}),
        ...(tls.skipVerify ? { rejectUnauthorized: false } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("close", () => {
          if (!res.complete) reject(new Error("the answer was cut off"));
        });
        res.on("end", () => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) for (const one of [v ?? []].flat()) headers.append(k, one);
          resolve({ status: res.statusCode ?? 0, headers, text: Buffer.concat(chunks).toString("utf8") });
        });
      },
    );
    out.on("error", reject);
    out.end(payload);
  });
}

/** One attempt, within the deadline: from sending to the answer's last byte. */
async function attempt(req: HttpRequest, settings: HttpSettings): Promise<HttpAnswer | NoAnswer> {
  const hide = (text: string) => redact(text, req.secrets);
  const payload = req.body === undefined ? undefined : JSON.stringify(req.body);
  const headered = payload === undefined ? req : { ...req, headers: { ...req.headers, "Content-Type": "application/json" } };
  // A black-holed address would otherwise hold the caller for the OS connect timeout (minutes).
  const signal = AbortSignal.timeout(settings.timeoutMs);
  try {
    const { status, headers, text } = req.tls
      ? await viaNodeHttps(headered, req.tls, payload, signal)
      : await viaFetch(headered, payload, signal);
    return { kind: "answer", status, headers, text: status >= 400 ? hide(text) : text };
  } catch (e) {
    const url = URL.canParse(req.url) ? new URL(req.url) : undefined;
    const path = url ? url.pathname + url.search : req.url;
    const no = (kind: NoAnswer["kind"], code: string, cause: string, detail: string): NoAnswer => ({
      kind,
      code,
      cause: hide(cause),
      detail,
      message: hide(`${req.method} ${path} → no response: ${detail}`),
      deadlineMs: settings.timeoutMs,
    });
    if (signal.aborted)
      return no("timeout", "ETIMEDOUT", `no answer within ${settings.timeoutMs} ms`, `timed out after ${settings.timeoutMs} ms`);
    // fetch wraps the network's error as its cause.
    const err = e as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
    const code = err.cause?.code ?? err.code ?? err.name ?? "unknown";
    return no("unreachable", code, err.cause?.message ?? err.message ?? String(e), `connection failed (${code})`);
  }
}

/**
 * Sends `req`, again after a pause (retry.ts) while it failed in a way that may pass — no answer,
 * or a 5xx or 429 — and it may be sent again, at most `retries` more times. Returns the last
 * answer whatever its status, or why there was none; never throws for the network's sake.
 */
export async function httpRequest(req: HttpRequest, settings: HttpSettings): Promise<HttpAnswer | NoAnswer> {
  const again = req.retry ?? idempotent(req.method);
  for (let n = 1; ; n++) {
    const outcome = await (req.limit ? req.limit.run(() => attempt(req, settings)) : attempt(req, settings));
    const passing = outcome.kind !== "answer" || transient(outcome.status);
    if (!again || !passing || n > settings.retries) return outcome;
    await sleep(
      retryDelay(settings, n, retryAfterMs(outcome.kind === "answer" ? (outcome.headers.get("retry-after") ?? undefined) : undefined)),
    );
  }
}
