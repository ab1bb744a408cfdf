// The test cluster on loopback, started and stopped by a test: a real control plane (etcd,
// kube-apiserver with RBAC, kube-controller-manager), Stakater Reloader with default flags, Vault
// in dev mode, and a node agent that binds and runs pods (docker-mailserver pods run
// docker-mailserver's own start-up), serves `kubectl exec` to the kubectl shim, and gives the
// mailserver Service a stable loopback address.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { attachMailserver, type Mailserver } from "../mailserver/mailserver";
import { paperlessInstallDir, type PaperlessServer } from "../paperless/server";
import { binary } from "./binaries";
import { Daemon, startDaemon, waitReady } from "./daemon";
import { adminRequest, serviceAccountKubeconfig, startKubeApi, type KubeApi } from "./kubeApi";
import { READY_FILE, type AgentConfig } from "./nodeAgent/main";
import { containerDir } from "./nodeAgent/kubelet";
import { instanceDir } from "./nodeAgent/mailserverRuntime";
import { paperlessRegistration } from "./nodeAgent/paperlessRuntime";
import { mostActivePod, selectorString } from "./nodeAgent/podChoice";
import { freePorts } from "./ports";
import { installProductionObjects, MAILSERVER, type ProductionObjects, type ProductionObjectsOptions } from "./productionObjects";
import { bindRoles } from "./rbac";
import { startReloader } from "./reloader";
import { startVault, type VaultDev } from "./vault";

const ROOT = join(__dirname, "..", "..", "..");

export interface ServiceAddress {
  host: "127.0.0.1";
  port: number;
}

export interface Cluster {
  /** Everything the cluster writes: logs (*.log), the kubeconfig, pod files, volumes. */
  readonly dir: string;
  /** An administrator's kubeconfig file (group system:masters). */
  readonly kubeconfig: string;
  readonly context: string;
  /** The API server's URL. */
  readonly server: string;
  readonly vault: Pick<VaultDev, "addr" | "rootToken" | "api">;
  /** Holds only `kubectl`, the shim: put it first on PATH. */
  readonly binDir: string;
  /** The real kubectl (what the shim hands everything but exec to). */
  readonly kubectl: string;
  /** KUBECONFIG, VAULT_ADDR and PATH with binDir first: the environment a user's shell would have. */
  readonly env: Readonly<Record<string, string>>;
  /** Seconds each part took to become ready, and the total. */
  readonly timings: Readonly<Record<string, number>>;
  /** Where a port of a Service answers on loopback (the mailserver Service: ports 25 and 143). */
  service(namespace: string, name: string, port: number): ServiceAddress;
  /** The objects the user's cluster has before the program runs (productionObjects.ts). */
  installProductionObjects(opts?: ProductionObjectsOptions): Promise<ProductionObjects>;
  /**
   * The docker-mailserver instance of the pod `kubectl exec deploy/<deployment>` reaches now (the
   * dms harness's Mailserver: log(), verdict(), locate(), exec(), …). Throws when that pod runs none.
   */
  mailserver(where?: { namespace: string; deployment: string; container: string }): Promise<Mailserver>;
  /**
   * A kubeconfig (same context name as the admin's) for the ServiceAccount `default/<name>`, made if
   * missing: an identity that may do only what bindRoles grants it.
   */
  serviceAccount(name: string): Promise<string>;
  /** Applies the Roles of `rolesYaml` (e.g. the rendered kubernetes-role.yaml) and binds each, in its namespace, to ServiceAccount `default/<name>`. */
  bindRoles(rolesYaml: string, name: string): Promise<void>;
  /** From now on `kubectl exec` of `… manage.py ARGS` into paperless-ngx pods runs this server's manage.py. */
  attachPaperless(server: Pick<PaperlessServer, "version" | "dir">): void;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** Services given a loopback address: default the mailserver's SMTP (25) and IMAP (143). */
  services?: { namespace: string; name: string; ports: number[] }[];
}

const seconds = (since: number) => Math.round((Date.now() - since) / 100) / 10;

function writeShim(binDir: string, kubectl: string, socket: string): void {
  mkdirSync(binDir, { recursive: true });
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  writeFileSync(
    join(binDir, "kubectl"),
    [
      "#!/bin/sh",
      "# kubectl SHIM of the paperless-mail-ingest test cluster, not kubectl: `exec` runs through the",
      "# cluster's node agent, everything else goes to the real kubectl (tests/support/cluster/kubectlShim.js).",
      `exec ${q(process.execPath)} ${q(join(__dirname, "kubectlShim.js"))} ${q(kubectl)} ${q(socket)} "$@"`,
      "",
    ].join("\n"),
  );
  chmodSync(join(binDir, "kubectl"), 0o755);
}

/** Kills every docker-mailserver instance still running under the cluster's pod directories. */
async function killInstances(dir: string): Promise<void> {
  const pods = join(dir, "pods");
  if (!existsSync(pods)) return;
  for (const uid of readdirSync(pods)) {
    const containers = join(pods, uid, "containers");
    for (const name of existsSync(containers) ? readdirSync(containers) : []) {
      const instance = instanceDir(containerDir(dir, uid, name));
      if (existsSync(join(instance, "pid")))
        await attachMailserver(instance)
          .stop(0)
          .catch(() => undefined);
    }
  }
}

async function startAgent(dir: string, config: AgentConfig): Promise<Daemon> {
  const configFile = join(dir, "agent.json");
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const agent = startDaemon("node agent", process.execPath, ["--require", "tsx/cjs", join(__dirname, "nodeAgent", "main.ts"), configFile], {
    logFile: join(dir, "node-agent.log"),
    cwd: ROOT,
  });
  await waitReady(agent, "node registered", async () => existsSync(join(dir, READY_FILE)), { timeoutMs: 60_000 });
  return agent;
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), "pmi-cluster-"));
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    stops.length = 0;
    if (!process.env.PMI_KEEP_CLUSTER) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const kubectl = binary("kubectl");
    const [vault, api] = await Promise.all([
      startVault(join(dir, "vault")).then((v) => {
        stops.push(() => v.stop());
        return v;
      }),
      startKubeApi(join(dir, "kube")).then((k: KubeApi) => {
        stops.push(() => k.stop());
        return k;
      }),
    ]);
    let t = Date.now();
    const reloader = await startReloader(dir, api.kubeconfig);
    stops.push(() => reloader.stop());
    const reloaderSeconds = seconds(t);

    const services = opts.services ?? [{ namespace: MAILSERVER.namespace, name: MAILSERVER.service, ports: [25, 143] }];
    const listen = await freePorts(services.reduce((n, s) => n + s.ports.length, 0));
    const forwarded = services.map((s) => ({
      namespace: s.namespace,
      name: s.name,
      ports: Object.fromEntries(s.ports.map((p) => [String(p), listen.shift()!])),
    }));
    const socket = join(dir, "agent.sock");
    // Runs after the agent has stopped: a docker-mailserver it left running (it crashed) is killed too.
    stops.push(() => killInstances(dir));
    t = Date.now();
    const agent = await startAgent(dir, { kubeconfig: api.kubeconfig, stateDir: dir, nodeName: "pmi-node", socket, services: forwarded });
    stops.push(() => agent.stop(120_000));
    const agentSeconds = seconds(t);

    const binDir = join(dir, "bin");
    writeShim(binDir, kubectl, socket);
    const timings = { ...api.timings, ...vault.timings, reloader: reloaderSeconds, "node agent": agentSeconds, total: seconds(started) };
    return {
      dir,
      kubeconfig: api.kubeconfig,
      context: api.context,
      server: api.server,
      binDir,
      kubectl,
      timings,
      vault: { addr: vault.addr, rootToken: vault.rootToken, api: vault.api },
      env: { KUBECONFIG: api.kubeconfig, VAULT_ADDR: vault.addr, PATH: `${binDir}:${process.env.PATH ?? ""}` },
      service(namespace, name, port) {
        const local = forwarded.find((s) => s.namespace === namespace && s.name === name)?.ports[String(port)];
        if (local === undefined)
          throw new Error(`service ${namespace}/${name} port ${port} has no loopback address (ClusterOptions.services)`);
        return { host: "127.0.0.1", port: local };
      },
      installProductionObjects: (o) => installProductionObjects(kubectl, api.kubeconfig, o),
      serviceAccount: (name) => serviceAccountKubeconfig(api, "default", name, join(dir, `${name}.kubeconfig`)),
      bindRoles: (rolesYaml, name) => bindRoles(kubectl, api.kubeconfig, rolesYaml, { namespace: "default", name }),
      async mailserver(where = { namespace: MAILSERVER.namespace, deployment: MAILSERVER.deployment, container: MAILSERVER.container }) {
        const get = async (path: string) => {
          const res = await adminRequest(api, "GET", path);
          if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status} ${res.body}`);
          return res.json;
        };
        const deployment = await get(`/apis/apps/v1/namespaces/${where.namespace}/deployments/${where.deployment}`);
        const pods = await get(
          `/api/v1/namespaces/${where.namespace}/pods?labelSelector=${encodeURIComponent(selectorString(deployment.spec.selector))}`,
        );
        const pod = mostActivePod(pods.items);
        const instance = pod && instanceDir(containerDir(dir, pod.metadata!.uid!, where.container));
        if (!instance || !existsSync(join(instance, "pid"))) {
          throw new Error(
            `no docker-mailserver runs in ${where.namespace}/${pod?.metadata?.name ?? `deploy/${where.deployment}`} (container ${where.container})`,
          );
        }
        return attachMailserver(instance);
      },
      attachPaperless(server) {
        mkdirSync(join(dir, "runtimes"), { recursive: true });
        // manage.sh is the paperless harness's entry for manage.py from any process (its header).
        const manage = ["bash", join(__dirname, "..", "paperless", "manage.sh"), paperlessInstallDir(server.version), server.dir];
        writeFileSync(paperlessRegistration(dir), JSON.stringify({ manage }));
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
