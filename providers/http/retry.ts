// When a failed request is sent again, and after how long (docs/architecture.md#http-requests).
import type { HttpSettings } from "./settings";

/** Methods whose repetition changes nothing more than the first request did (RFC 9110 §9.2.2). A
 * PATCH is not among them; a caller that knows its PATCH is idempotent says so. */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);

export function idempotent(method: string): boolean {
  return IDEMPOTENT.has(method);
}

/** Answers that may pass if asked again: the server's own failures and overload. */
export function transient(status: number): boolean {
  return status >= 500 || status === 429;
}

/** A Retry-After header in ms from `now`: delay-seconds or an HTTP date; undefined if absent or unreadable. */
export function retryAfterMs(header: string | undefined, now = Date.now()): number | undefined {
  const value = header?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/**
 * The pause after the given (1-based) failed attempt: exponential backoff with equal jitter, so
 * clients refused together do not come back together; a server's Retry-After wins, up to the cap.
 */
export function retryDelay(http: HttpSettings, attempt: number, retryAfter: number | undefined): number {
  const exponential = Math.min(http.backoffMs * 2 ** (attempt - 1), http.maxBackoffMs);
  const jittered = exponential / 2 + Math.random() * (exponential / 2);
  return Math.max(jittered, Math.min(retryAfter ?? 0, http.maxBackoffMs));
}
