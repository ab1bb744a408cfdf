// Polling with a deadline that says what it waits for: a line as it starts, then one every
// heartbeat, so a person watching a canary wait minutes sees it is alive and on which hop.
import { setTimeout as sleep } from "node:timers/promises";

export interface WaitOptions {
  readonly pollMs?: number;
  readonly heartbeatMs?: number;
}

/** Polls `probe` until it returns a value or the deadline passes (then undefined); `say` gets the progress lines. */
export async function waitFor<T>(
  deadline: number,
  what: string,
  say: (line: string) => void,
  probe: () => Promise<T | undefined>,
  opts: WaitOptions = {},
): Promise<T | undefined> {
  const started = Date.now();
  let beat: number | undefined;
  for (;;) {
    const v = await probe();
    if (v !== undefined || Date.now() >= deadline) return v;
    if (beat === undefined || Date.now() - beat >= (opts.heartbeatMs ?? 10_000)) {
      say(
        `waiting for ${what} (${Math.round((Date.now() - started) / 1000)} s, deadline in ${Math.max(0, Math.round((deadline - Date.now()) / 1000))} s)`,
      );
      beat = Date.now();
    }
    await sleep(Math.min(opts.pollMs ?? 1000, Math.max(0, deadline - Date.now())));
  }
}
