// The node agent process: `node --require tsx/cjs main.ts <config.json>`. A process of its own so
// that pods keep rolling out while the test process waits synchronously (e.g. on the Pulumi CLI).
// Writes <stateDir>/agent-ready once the node is registered and the exec socket and Service
// ports listen; stops every container on SIGTERM.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { serveExec } from "./execServer";
import { Kubelet } from "./kubelet";
import { mailserverRuntime } from "./mailserverRuntime";
import { paperlessRuntime } from "./paperlessRuntime";
import { idleRuntime, type ContainerRuntime } from "./runtime";
import { forwardService, type ForwardedService } from "./serviceForwarder";

export interface AgentConfig {
  kubeconfig: string;
  stateDir: string;
  nodeName: string;
  /** Unix socket of the exec server. */
  socket: string;
  services: ForwardedService[];
}

export const READY_FILE = "agent-ready";

const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);

async function main(configFile: string): Promise<void> {
  const config = JSON.parse(readFileSync(configFile, "utf8")) as AgentConfig;
  const k8s = require("@kubernetes/client-node") as typeof import("@kubernetes/client-node");
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(config.kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);

  const paperless = paperlessRuntime(config.stateDir);
  const runtimeFor = (image: string): ContainerRuntime => {
    const dms = /(^|\/)docker-mailserver:(\d+\.\d+\.\d+)/.exec(image);
    if (dms) return mailserverRuntime(dms[2]!);
    if (/(^|\/)paperless-ngx(:|@|$)/.test(image)) return paperless;
    return idleRuntime;
  };
  const kubelet = new Kubelet(core, { nodeName: config.nodeName, stateDir: config.stateDir, runtimeFor, log });
  await kubelet.register();

  const informer = k8s.makeInformer<V1Pod>(kc, "/api/v1/pods", () => core.listPodForAllNamespaces());
  informer.on("add", (p) => kubelet.onPod(p));
  informer.on("update", (p) => kubelet.onPod(p));
  informer.on("delete", (p) => kubelet.onPod(p, true));
  let stopping = false;
  informer.on("error", (e) => {
    if (stopping) return;
    log(`pod watch failed (${(e as Error)?.message ?? e}); restarting it`);
    setTimeout(() => void informer.start(), 1000);
  });
  await informer.start();

  const servers = [await serveExec(config.socket, core, apps, kubelet, log)];
  for (const svc of config.services) servers.push(...(await forwardService(core, kubelet, svc, log)));

  process.once("SIGTERM", () => {
    stopping = true;
    log("stopping");
    void informer
      .stop()
      .then(() => kubelet.shutdown())
      .finally(() => {
        for (const s of servers) s.close();
        process.exit(0);
      });
  });
  writeFileSync(join(config.stateDir, READY_FILE), `${process.pid}\n`);
  log(`node ${config.nodeName} ready`);
}

if (require.main === module) {
  main(process.argv[2]!).catch((e) => {
    log(`node agent failed: ${(e as Error).stack ?? e}`);
    process.exit(1);
  });
}
