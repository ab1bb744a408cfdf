// Shared setup for the paperless suites.

/** Short timeouts and backoff, so fault tests take milliseconds (read by httpSettingsFromEnv at call time). */
export function fastHttp(timeoutMs = 400): void {
  const saved = { ...process.env };
  beforeAll(() => {
    process.env.PAPERLESS_HTTP_TIMEOUT_MS = String(timeoutMs);
    process.env.PAPERLESS_HTTP_RETRIES = "3";
    process.env.PAPERLESS_HTTP_BACKOFF_MS = "5";
    process.env.PAPERLESS_HTTP_MAX_BACKOFF_MS = "20";
  });
  afterAll(() => {
    for (const k of ["PAPERLESS_HTTP_TIMEOUT_MS", "PAPERLESS_HTTP_RETRIES", "PAPERLESS_HTTP_BACKOFF_MS", "PAPERLESS_HTTP_MAX_BACKOFF_MS"]) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });
}
