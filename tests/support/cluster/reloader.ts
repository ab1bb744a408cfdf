// Stakater Reloader with its default flags, watching every namespace of the test cluster through
// the administrator's kubeconfig (as its Helm chart's ClusterRole would let it).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { binary } from "./binaries";
import { Daemon, startDaemon, waitReady } from "./daemon";

export async function startReloader(dir: string, kubeconfig: string): Promise<Daemon> {
  const logFile = join(dir, "reloader.log");
  const daemon = startDaemon("reloader", binary("reloader"), [], {
    logFile,
    env: { ...process.env, KUBECONFIG: kubeconfig },
  });
  try {
    // Its ConfigMap controller is started (its informer lists first, so no later change is missed).
    await waitReady(daemon, "its ConfigMap controller", async () =>
      /Starting Controller to watch resource type: configmaps/i.test(readFileSync(logFile, "utf8")),
    );
  } catch (e) {
    await daemon.stop();
    throw e;
  }
  return daemon;
}
