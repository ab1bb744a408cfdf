// The Kubernetes objects the doctor reads, each one GET (or one list) through the program's own
// client (providers/kubernetes/kubeClient.ts): the mailserver Deployment, its pods, the shared
// ConfigMap and each mailbox's sieve ConfigMap. Only get/list: the doctor never writes.
import { createHash } from "node:crypto";
import type { KubeTarget } from "../core/kubeTarget";
import type { KubeApis } from "../providers/kubernetes/kubeApi";
import { type ConfigMapObject, connect, getObject, type KubeConnection } from "../providers/kubernetes/kubeClient";

export interface Container {
  name: string;
  env?: { name: string; value?: string }[];
}

export interface Deployment {
  metadata: { name: string; generation?: number; annotations?: Record<string, string> };
  spec: {
    replicas?: number;
    strategy?: { type?: string };
    selector: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] };
    template: { metadata?: { annotations?: Record<string, string> }; spec: { containers: Container[] } };
  };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; status: string; reason?: string }[];
  };
}

/** A container's state as the kubelet reports it: the one of waiting, running or terminated that is set. */
export interface ContainerState {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: Date };
  terminated?: { reason?: string; exitCode: number; message?: string };
}

export interface Pod {
  metadata: { name: string; creationTimestamp?: Date; deletionTimestamp?: Date; labels?: Record<string, string> };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; ready: boolean; restartCount: number; state?: ContainerState; lastState?: ContainerState }[];
  };
}

/** A label selector as the API's `labelSelector` query takes it. */
export function selectorQuery(selector: Deployment["spec"]["selector"]): string {
  const labels = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  const expressions = (selector.matchExpressions ?? []).map((e) => {
    const values = (e.values ?? []).join(",");
    switch (e.operator) {
      case "In":
        return `${e.key} in (${values})`;
      case "NotIn":
        return `${e.key} notin (${values})`;
      case "Exists":
        return e.key;
      default:
        return `!${e.key}`;
    }
  });
  return [...labels, ...expressions].join(",");
}

/** The hash Stakater Reloader writes into its `STAKATER_<NAME>_CONFIGMAP` variable when it rolls a workload for a ConfigMap (docs/mailserver.md). */
export function reloaderHash(cm: ConfigMapObject): string {
  const values = [
    ...Object.entries(cm.data ?? {}).map(([k, v]) => `${k}=${v}`),
    ...Object.entries((cm as { binaryData?: Record<string, string> }).binaryData ?? {}).map(([k, v]) => `${k}=${v}`),
  ].sort();
  return createHash("sha1").update(values.join(";")).digest("hex");
}

export class KubeReads {
  private conn: Promise<KubeConnection> | undefined;
  /** Requests made, for the run's request count. */
  requests = 0;

  constructor(private readonly target: KubeTarget) {}

  private async get<T>(what: string, read: (api: KubeApis) => Promise<T>): Promise<T | undefined> {
    this.conn ??= connect(this.target);
    const conn = await this.conn;
    this.requests++;
    return await getObject(conn, what, read);
  }

  async deployment(namespace: string, name: string): Promise<Deployment | undefined> {
    return (await this.get(`Deployment ${namespace}/${name}`, (api) => api.apps.readNamespacedDeployment({ name, namespace }))) as
      Deployment | undefined;
  }

  async pods(namespace: string, labelSelector: string): Promise<Pod[]> {
    const list = await this.get(`the pods of ${labelSelector} in namespace ${namespace}`, (api) =>
      api.core.listNamespacedPod({ namespace, labelSelector }),
    );
    return (list?.items ?? []) as Pod[];
  }

  async configMap(namespace: string, name: string): Promise<ConfigMapObject | undefined> {
    return (await this.get(`ConfigMap ${namespace}/${name}`, (api) => api.core.readNamespacedConfigMap({ name, namespace }))) as
      ConfigMapObject | undefined;
  }
}
