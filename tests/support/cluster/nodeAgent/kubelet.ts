// The node's part of pod life, against the real API server: one Node, registered Ready and kept
// alive by heartbeats; every pending pod bound to it (the scheduler's job); every bound pod's
// containers started by their runtime with their mounts as they are now, then reported Running
// and Ready (the kubelet's job); a crashed container reported and restarted with backoff; a pod
// being deleted stopped and then removed for good. That is what lets a Deployment roll out,
// Reloader's restart included.
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { CoreV1Api, V1ContainerStatus, V1Pod, V1PodCondition, V1PodStatus } from "@kubernetes/client-node";
import { isMountNotReady, prepareMounts } from "./podFiles";
import type { ContainerProcess, ContainerRuntime } from "./runtime";

export interface KubeletOptions {
  readonly nodeName: string;
  /** pods/<uid>/ (per pod) and volumes/<namespace>/<claim>/ (claims) live here. */
  readonly stateDir: string;
  readonly runtimeFor: (image: string) => ContainerRuntime;
  readonly log: (line: string) => void;
}

/** A pod on this node, as the agent runs it. */
export interface NodePod {
  pod: V1Pod;
  /** Container name -> its running process (absent while starting, crashed or stopped). */
  readonly processes: Map<string, ContainerProcess>;
  readyAt?: string;
  restarts: number;
  deleting: boolean;
  /** Messages of the Warning events already recorded for this pod. */
  readonly warned: Set<string>;
}

/** Where a container of a pod on this node keeps its files (a runtime's own directory). */
export function containerDir(stateDir: string, podUid: string, container: string): string {
  return join(stateDir, "pods", podUid, "containers", container);
}

const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");
const isNotFound = (e: unknown) => (e as { code?: number }).code === 404;

export class Kubelet {
  /** By pod uid. */
  readonly pods = new Map<string, NodePod>();
  /** Per pod uid: the tail of its serialized work. */
  private readonly queues = new Map<string, Promise<void>>();
  private heartbeat?: NodeJS.Timeout;
  private stopping = false;

  constructor(
    private readonly core: CoreV1Api,
    private readonly opts: KubeletOptions,
  ) {}

  private nodeStatus() {
    const t = now();
    const resources = { cpu: "16", memory: "64Gi", pods: "110", "ephemeral-storage": "100Gi" };
    return {
      capacity: resources,
      allocatable: resources,
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "KubeletReady",
          message: "test node agent is posting ready status",
          lastHeartbeatTime: t,
          lastTransitionTime: t,
        },
        ...["MemoryPressure", "DiskPressure", "PIDPressure"].map((type) => ({
          type,
          status: "False",
          reason: `KubeletHas${type === "PIDPressure" ? "SufficientPID" : type === "MemoryPressure" ? "SufficientMemory" : "NoDiskPressure"}`,
          lastHeartbeatTime: t,
          lastTransitionTime: t,
        })),
      ],
      addresses: [
        { type: "InternalIP", address: "127.0.0.1" },
        { type: "Hostname", address: this.opts.nodeName },
      ],
      nodeInfo: {
        machineID: "pmi",
        systemUUID: "pmi",
        bootID: "pmi",
        kernelVersion: "",
        osImage: "paperless-mail-ingest test node",
        containerRuntimeVersion: "pmi://1",
        kubeletVersion: "v1.35.4",
        kubeProxyVersion: "",
        operatingSystem: "linux",
        architecture: "amd64",
      },
    };
  }

  /** Registers the Node and keeps its Ready heartbeat fresh (the node lifecycle controller evicts silent nodes). */
  async register(): Promise<void> {
    const name = this.opts.nodeName;
    await this.core
      .createNode({ body: { metadata: { name, labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux" } } } })
      .catch((e) => {
        if ((e as { code?: number }).code !== 409) throw e;
      });
    const beat = () => this.core.patchNodeStatus({ name, body: [{ op: "add", path: "/status", value: this.nodeStatus() }] });
    await beat();
    this.heartbeat = setInterval(() => void beat().catch((e) => this.opts.log(`node heartbeat failed: ${(e as Error).message}`)), 10_000);
  }

  /** Every change of every pod lands here; work on one pod runs one step at a time. */
  onPod(pod: V1Pod, deleted = false): void {
    const uid = pod.metadata!.uid!;
    const run = (this.queues.get(uid) ?? Promise.resolve())
      .then(() => (deleted ? this.forget(uid) : this.sync(pod)))
      .catch((e) => this.opts.log(`pod ${pod.metadata!.namespace}/${pod.metadata!.name}: ${(e as Error).stack ?? e}`));
    this.queues.set(uid, run);
    void run.then(() => {
      if (this.queues.get(uid) === run) this.queues.delete(uid);
    });
  }

  private async sync(pod: V1Pod): Promise<void> {
    if (this.stopping) return;
    const { namespace, name, uid } = pod.metadata as { namespace: string; name: string; uid: string };
    if (!pod.spec!.nodeName) {
      if (!pod.metadata!.deletionTimestamp) {
        await this.core
          .createNamespacedBinding({
            namespace,
            body: { metadata: { name, namespace }, target: { kind: "Node", name: this.opts.nodeName } },
          })
          .catch((e) => {
            if (!isNotFound(e) && (e as { code?: number }).code !== 409) throw e;
          });
      }
      return;
    }
    if (pod.spec!.nodeName !== this.opts.nodeName) return;
    let slot = this.pods.get(uid);
    if (pod.metadata!.deletionTimestamp) {
      if (slot) slot.deleting = true;
      await this.stopContainers(uid, pod.spec!.terminationGracePeriodSeconds ?? 30);
      // The kubelet's final delete: grace period over, only this incarnation of the name.
      // Options in the body: the API server ignores the query's gracePeriodSeconds when a body is sent.
      await this.core.deleteNamespacedPod({ name, namespace, body: { gracePeriodSeconds: 0, preconditions: { uid } } }).catch((e) => {
        if (!isNotFound(e) && (e as { code?: number }).code !== 409) throw e;
      });
      return;
    }
    if (!slot) {
      slot = { pod, processes: new Map(), restarts: 0, deleting: false, warned: new Set() };
      this.pods.set(uid, slot);
      await this.startContainers(slot);
    } else {
      slot.pod = pod;
    }
  }

  private podDir(uid: string): string {
    return join(this.opts.stateDir, "pods", uid);
  }

  private async startContainers(slot: NodePod): Promise<void> {
    const pod = slot.pod;
    const where = `${pod.metadata!.namespace}/${pod.metadata!.name}`;
    const uid = pod.metadata!.uid!;
    await this.report(slot, { reason: "ContainerCreating" });
    for (const container of pod.spec!.containers) {
      if (slot.processes.has(container.name)) continue;
      const dir = containerDir(this.opts.stateDir, uid, container.name);
      mkdirSync(dir, { recursive: true });
      try {
        const mounts = await prepareMounts(this.core, pod, container, this.podDir(uid), join(this.opts.stateDir, "volumes"));
        const env = Object.fromEntries((container.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
        const runtime = this.opts.runtimeFor(container.image ?? "");
        this.opts.log(`${where}: starting ${container.name} (${runtime.name}, ${container.image})`);
        const started = Date.now();
        const process = await runtime.start({
          pod,
          container,
          mounts,
          env,
          dir,
          log: (l) => this.opts.log(`${where}/${container.name}: ${l}`),
        });
        this.opts.log(`${where}: ${container.name} running after ${((Date.now() - started) / 1000).toFixed(1)} s`);
        slot.processes.set(container.name, process);
        void process.exited.then((reason) => this.onExit(slot, container.name, process, reason));
      } catch (e) {
        if (slot.deleting) return;
        this.opts.log(`${where}: ${container.name} did not start: ${(e as Error).message}`);
        if (isMountNotReady(e)) {
          // As the kubelet: volumes are set up before any container is created, so the pod stays
          // ContainerCreating (the status says no more), the reason goes to a FailedMount event,
          // and the mount is retried; that is no restart.
          await this.report(slot, { reason: "ContainerCreating" });
          await this.warn(slot, "FailedMount", e.message);
          this.retryLater(slot, 2_000);
        } else {
          const delay = this.backoff(slot);
          await this.report(slot, { reason: "CrashLoopBackOff", message: (e as Error).message });
          this.retryLater(slot, delay);
        }
        return;
      }
    }
    slot.readyAt = now();
    await this.report(slot);
  }

  /** A Warning event on the pod, as the kubelet records one (`kubectl describe pod` shows it); once per distinct message. */
  private async warn(slot: NodePod, reason: string, message: string): Promise<void> {
    if (slot.warned.has(message)) return;
    slot.warned.add(message);
    const { namespace, name, uid } = slot.pod.metadata as { namespace: string; name: string; uid: string };
    const t = new Date();
    await this.core
      .createNamespacedEvent({
        namespace,
        body: {
          metadata: { name: `${name}.${t.getTime().toString(16)}`, namespace },
          involvedObject: { kind: "Pod", apiVersion: "v1", namespace, name, uid },
          reason,
          message,
          type: "Warning",
          source: { component: "kubelet", host: this.opts.nodeName },
          firstTimestamp: t,
          lastTimestamp: t,
          count: 1,
        },
      })
      .catch((e) => this.opts.log(`event ${reason} on ${namespace}/${name}: ${(e as Error).message}`));
  }

  /** Counts a restart; the pause before it, as the kubelet's backoff: 10 s doubling, here capped at 40 s. */
  private backoff(slot: NodePod): number {
    return Math.min(10_000 * 2 ** slot.restarts++, 40_000);
  }

  private retryLater(slot: NodePod, ms: number): void {
    setTimeout(() => {
      const uid = slot.pod.metadata!.uid!;
      if (this.stopping || slot.deleting || this.pods.get(uid) !== slot) return;
      const run = (this.queues.get(uid) ?? Promise.resolve())
        .then(() => this.startContainers(slot))
        .catch((e) => this.opts.log(`restart of ${slot.pod.metadata!.name}: ${(e as Error).message}`));
      this.queues.set(uid, run);
    }, ms).unref();
  }

  private onExit(slot: NodePod, container: string, process: ContainerProcess, reason: string): void {
    if (slot.processes.get(container) !== process || slot.deleting || this.stopping) return;
    slot.processes.delete(container);
    delete slot.readyAt;
    this.opts.log(`${slot.pod.metadata!.namespace}/${slot.pod.metadata!.name}: ${container} exited: ${reason}`);
    const delay = this.backoff(slot);
    void this.report(slot, { reason: "CrashLoopBackOff", message: reason }).catch(() => undefined);
    this.retryLater(slot, delay);
  }

  private async stopContainers(uid: string, graceSeconds: number): Promise<void> {
    const slot = this.pods.get(uid);
    if (!slot) return;
    slot.deleting = true;
    await Promise.all([...slot.processes.values()].map((p) => p.stop(graceSeconds)));
    slot.processes.clear();
  }

  /** The pod is gone from the API (deleted at once, or its namespace): what still runs is killed. */
  private async forget(uid: string): Promise<void> {
    await this.stopContainers(uid, 0);
    this.pods.delete(uid);
    rmSync(this.podDir(uid), { recursive: true, force: true });
  }

  /** Writes the pod's status: Running and Ready when every container runs, else waiting with `waiting`. */
  private async report(slot: NodePod, waiting?: { reason: string; message?: string }): Promise<void> {
    const pod = slot.pod;
    const t = now();
    const allRunning = !waiting && pod.spec!.containers.every((c) => slot.processes.has(c.name));
    const ready = allRunning ? "True" : "False";
    const condition = (type: string, status: string): V1PodCondition =>
      ({
        type,
        status,
        lastTransitionTime: (type === "Ready" || type === "ContainersReady") && slot.readyAt ? slot.readyAt : t,
      }) as unknown as V1PodCondition;
    const containerStatuses: V1ContainerStatus[] = pod.spec!.containers.map((c) => ({
      name: c.name,
      image: c.image ?? "",
      imageID: "",
      containerID: `pmi://${pod.metadata!.uid}/${c.name}/${slot.restarts}`,
      ready: slot.processes.has(c.name) && allRunning,
      started: slot.processes.has(c.name),
      restartCount: slot.restarts,
      state: slot.processes.has(c.name)
        ? { running: { startedAt: (slot.readyAt ?? t) as unknown as Date } }
        : { waiting: { reason: waiting?.reason ?? "ContainerCreating", ...(waiting?.message ? { message: waiting.message } : {}) } },
    }));
    const status: V1PodStatus = {
      phase: allRunning || slot.restarts > 0 ? "Running" : "Pending",
      conditions: [
        condition("PodReadyToStartContainers", "True"),
        condition("Initialized", "True"),
        condition("Ready", ready),
        condition("ContainersReady", ready),
        condition("PodScheduled", "True"),
      ],
      hostIP: "127.0.0.1",
      hostIPs: [{ ip: "127.0.0.1" }],
      podIP: "127.0.0.1",
      podIPs: [{ ip: "127.0.0.1" }],
      startTime: (pod.status?.startTime ?? t) as unknown as Date,
      containerStatuses,
      qosClass: "BestEffort",
    };
    await this.core
      .patchNamespacedPodStatus({
        name: pod.metadata!.name!,
        namespace: pod.metadata!.namespace!,
        body: [{ op: "add", path: "/status", value: status }],
      })
      .catch((e) => {
        if (!isNotFound(e)) throw e;
      });
  }

  /** Kills every container (the cluster is going away, nothing needs a graceful stop); pods stay in the API. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.heartbeat);
    await Promise.all([...this.pods.keys()].map((uid) => this.stopContainers(uid, 0)));
  }
}
