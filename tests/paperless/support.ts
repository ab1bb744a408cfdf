// Shared setup for the paperless suites.

/** Short timeouts and backoff, so fault tests take seconds, not minutes (read by httpSettingsFromEnv at call time). */
export function fastHttp(timeoutMs = 3000): void {
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

/** Runs `fn` with a longer client timeout: a page of 1000 objects takes longer than fastHttp's on a busy machine. */
export async function patiently<T>(fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const saved = process.env.PAPERLESS_HTTP_TIMEOUT_MS;
  process.env.PAPERLESS_HTTP_TIMEOUT_MS = String(timeoutMs);
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.PAPERLESS_HTTP_TIMEOUT_MS;
    else process.env.PAPERLESS_HTTP_TIMEOUT_MS = saved;
  }
}

/**
 * What the providers say on stderr during each test, by line (the engine shows a provider
 * plugin's stderr as the CLI's output); everything else written there passes through.
 */
export function capturedStderr(): { lines(): string[] } {
  let said: string[] = [];
  let spy: jest.SpyInstance | undefined;
  beforeEach(() => {
    said = [];
    const write = process.stderr.write.bind(process.stderr);
    spy = jest.spyOn(process.stderr, "write").mockImplementation(((chunk: string | Uint8Array, ...rest: never[]) => {
      const text = String(chunk);
      if (!text.startsWith("paperless-ngx: ")) return write(chunk, ...rest);
      said.push(...text.split("\n").filter(Boolean));
      return true;
    }) as typeof process.stderr.write);
  });
  afterEach(() => spy?.mockRestore());
  return { lines: () => [...said] };
}
