// How long a request may take and how a failed one is retried: one settings type for the paperless
// and Vault clients, each read from its own environment variables (README, "Slow or unreachable
// servers"), so the engine's plugin process (which inherits the `pulumi` CLI's environment), the
// doctor and the tests can tune them without touching state.

export interface HttpSettings {
  /** Deadline of one attempt: from getting a connection to the answer's last byte. */
  readonly timeoutMs: number;
  /** Extra attempts after the first, for requests that may be sent again (providers/http/retry.ts). */
  readonly retries: number;
  /** First backoff; doubles per attempt, capped by maxBackoffMs. */
  readonly backoffMs: number;
  /** Cap of a backoff and of a server's Retry-After. */
  readonly maxBackoffMs: number;
}

function envNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`environment variable ${name}: ${JSON.stringify(raw)} is not a non-negative number`);
  return n;
}

/** `<PREFIX>_HTTP_TIMEOUT_MS`, `_RETRIES`, `_BACKOFF_MS` and `_MAX_BACKOFF_MS`, each defaulting to `defaults`. */
export function httpSettingsFromEnv(
  prefix: "PAPERLESS" | "VAULT",
  defaults: HttpSettings,
  env: NodeJS.ProcessEnv = process.env,
): HttpSettings {
  return {
    timeoutMs: envNumber(env, `${prefix}_HTTP_TIMEOUT_MS`, defaults.timeoutMs),
    retries: envNumber(env, `${prefix}_HTTP_RETRIES`, defaults.retries),
    backoffMs: envNumber(env, `${prefix}_HTTP_BACKOFF_MS`, defaults.backoffMs),
    maxBackoffMs: envNumber(env, `${prefix}_HTTP_MAX_BACKOFF_MS`, defaults.maxBackoffMs),
  };
}
