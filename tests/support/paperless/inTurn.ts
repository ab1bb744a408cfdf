// One paperless-ngx per version for a test file that runs the versions in turn
// (describe.each(PAPERLESS_VERSIONS)): each version's server starts as soon as the one before it is
// up, so its start-up overlaps the earlier version's tests instead of following them.
import { PAPERLESS_VERSIONS, startPaperless, type PaperlessServer, type PaperlessVersion, type StartOptions } from "./server";

/**
 * Call at the top level of a test file; the returned function gives a version's server (started
 * then, if its turn has not come yet). The caller stops the servers it got; a server started for
 * a version no test asked for (a filtered run) is stopped after the file.
 */
export function paperlessInTurn(
  opts: StartOptions,
  versions: readonly PaperlessVersion[] = PAPERLESS_VERSIONS,
): (version: PaperlessVersion) => Promise<PaperlessServer> {
  const starts = new Map<PaperlessVersion, Promise<PaperlessServer>>();
  const claimed = new Set<PaperlessVersion>();
  const start = (version: PaperlessVersion): Promise<PaperlessServer> => {
    let started = starts.get(version);
    if (!started) {
      started = startPaperless(version, opts);
      starts.set(version, started);
      const next = versions[versions.indexOf(version) + 1];
      // A failed start is handled here too (no unhandled rejection); whoever asks for it gets the error.
      void started.then(
        () => {
          if (next) void start(next);
        },
        () => undefined,
      );
    }
    return started;
  };
  afterAll(async () => {
    for (const [version, started] of starts) {
      if (!claimed.has(version)) await started.then((s) => s.stop()).catch(() => undefined);
    }
  });
  return (version) => {
    claimed.add(version);
    return start(version);
  };
}
