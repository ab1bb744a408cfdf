// A small paperless-ngx REST client on the shared HTTP request (providers/http/request.ts,
// docs/paperless-api.md): its paths, token header, API version and error advice. What it
// remembers for the operation is session.ts's.
import { type CodedError, codedError, hasCode } from "../../core/codedError";
import { httpRequest, InFlightLimit } from "../http/request";
import { retryAfterMs, transient } from "../http/retry";
import { httpSettingsFromEnv, type HttpSettings } from "../http/settings";

export type { HttpSettings };

/** PAPERLESS_HTTP_* (README), read when a client is made. */
export function paperlessHttpSettings(): HttpSettings {
  return httpSettingsFromEnv("PAPERLESS", { timeoutMs: 30_000, retries: 4, backoffMs: 500, maxBackoffMs: 8_000 });
}

/** Highest API version this client speaks (docs/paperless-api.md#versioning: 3.x allows 9 and 10, 2.20 up to 9). */
export const CLIENT_MAX_API_VERSION = 10;

/** The paperless user a token belongs to, as `GET /api/ui_settings/` names it (2.x and 3.x alike). */
export interface TokenUser {
  readonly id: number;
  readonly username: string;
  readonly is_superuser: boolean;
}

/** What the server told us about itself on the first response (docs/paperless-api.md#versioning: X-Api-Version, X-Version). */
export interface ServerInfo {
  /** Version sent in `Accept`, or undefined when the server announced none (very old servers). */
  readonly apiVersion: number | undefined;
  /** paperless-ngx release, e.g. "3.0.5"; undefined if the header is missing. */
  readonly serverVersion: string | undefined;
}

/** The probe's answer: the server, and whose token this client holds. */
export interface Probe extends ServerInfo {
  readonly user: TokenUser;
}

/** `stop_processing` exists from paperless-ngx 3.0 on (docs/paperless-api.md#objects). */
export function supportsStopProcessing(info: ServerInfo): boolean {
  const major = info.serverVersion ? Number.parseInt(info.serverVersion, 10) : NaN;
  return Number.isFinite(major) ? major >= 3 : (info.apiVersion ?? 0) >= 10;
}

export type FieldErrors = Record<string, string[]>;

export const API_ERROR = "PAPERLESS_API_ERROR";

/**
 * A failed request: method, path, status and the server's field errors, never the token, a
 * password or a request body. `retryable` marks failures after which the request may still have
 * landed or may succeed later (timeouts, dropped connections, 5xx, 429).
 */
export type PaperlessApiError = CodedError<
  typeof API_ERROR,
  {
    method: string;
    path: string;
    status: number | undefined;
    detail: string;
    fieldErrors: FieldErrors | undefined;
    retryable: boolean;
    retryAfterMs: number | undefined;
  }
>;

export function apiError(fields: Omit<PaperlessApiError, "code" | "name" | "message" | "stack">): PaperlessApiError {
  return codedError(API_ERROR, `${fields.method} ${fields.path} → ${fields.status ?? "no response"}: ${fields.detail}`, fields);
}

export const isPaperlessApiError = (e: unknown): e is PaperlessApiError => hasCode(e, API_ERROR);

/** `filter_from: Ensure this field has no more than 256 characters.; non_field_errors: …` */
export function formatFieldErrors(errors: FieldErrors): string {
  return Object.entries(errors)
    .map(([field, msgs]) => `${field}: ${msgs.join(" ")}`)
    .join("; ");
}

/** DRF error bodies (docs/paperless-api.md#errors): field map, `{detail}`, `{error}` or plain text. */
function describeBody(text: string): { detail: string; fieldErrors: FieldErrors | undefined } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { detail: text.trim().slice(0, 500) || "(empty body)", fieldErrors: undefined };
  }
  if (body !== null && typeof body === "object" && !Array.isArray(body)) {
    const obj = body as Record<string, unknown>;
    if (typeof obj.detail === "string" && Object.keys(obj).length === 1) return { detail: obj.detail, fieldErrors: undefined };
    const fieldErrors: FieldErrors = {};
    for (const [k, v] of Object.entries(obj)) fieldErrors[k] = Array.isArray(v) ? v.map(String) : [String(v)];
    return { detail: formatFieldErrors(fieldErrors), fieldErrors };
  }
  return { detail: text.slice(0, 500), fieldErrors: undefined };
}

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

export interface RequestOptions {
  body?: unknown;
  /** Retry on transient failures. Off for POST: a create must re-look-up before trying again. On
   * for PATCH: the providers' PATCHes send the fields' values, so a repetition changes nothing more. */
  retry?: boolean;
}

/**
 * Requests in flight per server. The engine runs resource operations unbounded in parallel by
 * default, so a first deploy of N rules would otherwise open N requests at once against a
 * paperless instance with a handful of workers.
 */
export const MAX_IN_FLIGHT = 8;

export class PaperlessClient {
  private info: Promise<Probe> | undefined;
  private readonly limit = new InFlightLimit(MAX_IN_FLIGHT);

  constructor(
    readonly baseUrl: string,
    private readonly token: string,
    readonly http: HttpSettings = paperlessHttpSettings(),
  ) {}

  /**
   * Probes the server once (docs/paperless-api.md#versioning): send min(serverMax, 10), so both 2.x and 3.x
   * accept it. The probe is the token's own UI settings, which also name its user: one request for both.
   */
  serverInfo(): Promise<Probe> {
    this.info ??= this.send("GET", "/api/ui_settings/", { retry: true }, undefined).then(({ body, headers }) => {
      const announced = Number.parseInt(headers.get("x-api-version") ?? "", 10);
      return {
        apiVersion: Number.isFinite(announced) ? Math.min(announced, CLIENT_MAX_API_VERSION) : undefined,
        serverVersion: headers.get("x-version") ?? undefined,
        user: (body as { user: TokenUser }).user,
      };
    });
    // A failure that may pass must not poison later calls; a refusal (401, 403) stands for this token.
    this.info.catch((e: unknown) => {
      if (!isPaperlessApiError(e) || e.retryable) this.info = undefined;
    });
    return this.info;
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const info = await this.serverInfo();
    const { body } = await this.send(method, path, { retry: method !== "POST", ...opts }, info.apiVersion);
    return body as T;
  }

  /** Every object of a collection, following `next` (docs/paperless-api.md#reads). */
  async listAll<T>(collection: string, query = ""): Promise<T[]> {
    const out: T[] = [];
    let path: string | null = `${collection}?page_size=1000${query ? `&${query}` : ""}`;
    while (path !== null) {
      const page: Page<T> = await this.request<Page<T>>("GET", path);
      out.push(...page.results);
      path = page.next === null ? null : this.relative(page.next);
    }
    return out;
  }

  /** `next` is absolute and built from the request's Host: behind a proxy its scheme or host may be
   * wrong, so keep only its path and query (minus any script-name prefix) and reuse our base URL. */
  private relative(next: string): string {
    const url = new URL(next, this.baseUrl);
    const prefix = new URL(this.baseUrl).pathname.replace(/\/$/, "");
    const path = prefix && url.pathname.startsWith(prefix + "/") ? url.pathname.slice(prefix.length) : url.pathname;
    return path + url.search;
  }

  private async send(
    method: string,
    path: string,
    opts: RequestOptions,
    apiVersion: number | undefined,
  ): Promise<{ body: unknown; headers: Headers }> {
    const outcome = await httpRequest(
      {
        method,
        url: this.baseUrl.replace(/\/$/, "") + path,
        headers: {
          Authorization: `Token ${this.token}`,
          Accept: apiVersion === undefined ? "application/json" : `application/json; version=${apiVersion}`,
        },
        body: opts.body,
        secrets: [this.token],
        retry: opts.retry ?? false,
        limit: this.limit,
      },
      this.http,
    );
    if (outcome.kind !== "answer") {
      throw apiError({
        method,
        path,
        status: undefined,
        detail: outcome.detail,
        fieldErrors: undefined,
        retryable: true,
        retryAfterMs: undefined,
      });
    }
    const { status, headers, text } = outcome;
    if (status >= 200 && status < 300) return { body: text === "" ? undefined : JSON.parse(text), headers };
    const { detail, fieldErrors } = describeBody(text);
    throw apiError({
      method,
      path,
      status,
      detail,
      fieldErrors,
      retryable: transient(status),
      retryAfterMs: retryAfterMs(headers.get("retry-after") ?? undefined),
    });
  }
}
