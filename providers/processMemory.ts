// What the dynamic providers remember between calls: listed collections, the configured token,
// loaded kubeconfigs. The engine's plugin process serves one `pulumi` operation
// (docs/architecture.md#one-process-per-operation), so this lives exactly one operation and is
// shared by every resource and kind.
//
// Kept on globalThis, not in this module: a process that loads two copies of the providers must
// still have one memory. The tests do: they load the built copy a shim names beside the sources
// (tests/paperless/suites/serialization.ts), and one forgetProcessMemory() must reach both.
const SLOT = Symbol.for("paperless-mail-ingest/process-memory");

function memory(): Map<string, unknown> {
  const g = globalThis as unknown as Record<symbol, Map<string, unknown> | undefined>;
  return (g[SLOT] ??= new Map<string, unknown>());
}

/** What is remembered under `name` in this process, made by `make` on first use. */
export function remembered<T>(name: string, make: () => T): T {
  const m = memory();
  if (!m.has(name)) m.set(name, make());
  return m.get(name) as T;
}

/** For tests, which run many operations in one process: forget everything, as a new operation's process starts. */
export function forgetProcessMemory(): void {
  memory().clear();
}
