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

/** The error a promise rejects with; fails the test if it resolves. */
export async function failure<E extends Error = Error>(p: Promise<unknown>): Promise<E> {
  try {
    await p;
  } catch (e) {
    return e as E;
  }
  throw new Error("expected a failure");
}
