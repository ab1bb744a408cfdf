// Dynamic provider: ConfigMap volumes mounted into one container of a Deployment someone else
// owns (the mailserver), plus annotations, all applied by server-side apply as ONE field manager
// without force. Why not @pulumi/kubernetes' DeploymentPatch: its diff prunes the live object to
// the shape of our inputs list index by list index, so with the owner's own volumes and mounts
// before ours every preview showed a change that "rewrote" them. Here volumes are compared by
// name and mounts by mountPath (the keys server-side apply merges them by), so a no-op preview is
// a no-op; check() dry-runs the apply, so a field another manager owns fails the preview, naming
// that manager; delete applies an empty patch, which gives up exactly our fields.
import type { KubeTarget } from "../../core/kubeTarget";
import type * as pulumi from "@pulumi/pulumi";
import { type ConfigMapMount, type DeploymentMounts, mountsApplyBody } from "../../core/deploymentPatch";
import type { V1Deployment } from "@kubernetes/client-node";
import { connect, type Connector, type KubeConnection, getObject, peekDeployment, serverSideApply } from "./kubeClient";

/** The mounts to apply, and the cluster (kubeconfig and context; secret with an inline kubeconfig). */
export type DeploymentMountsProps = DeploymentMounts & { cluster: KubeTarget };

/**
 * What of our declared state the live Deployment holds: each declared annotation and mount as it
 * is live (a mount counts only with its volume pointing at its ConfigMap, read-only), matched by
 * key. A mount or annotation missing, or changed by hand, is missing here: that is the drift.
 */
function observed(p: DeploymentMountsProps, live: V1Deployment): Pick<DeploymentMountsProps, "annotations" | "mounts"> {
  const liveAnnotations = live.metadata?.annotations ?? {};
  const annotations = Object.fromEntries(
    Object.keys(p.annotations)
      .filter((k) => liveAnnotations[k] !== undefined)
      .map((k) => [k, liveAnnotations[k]!]),
  );
  const spec = live.spec?.template?.spec;
  const container = spec?.containers?.find((c) => c.name === p.container);
  const mounts = p.mounts.flatMap((m): ConfigMapMount[] => {
    const mount = container?.volumeMounts?.find((v) => v.mountPath === m.mountPath);
    const volume = mount && spec?.volumes?.find((v) => v.name === mount.name);
    if (!mount || !volume?.configMap?.name || !mount.readOnly) return [];
    return [{ volumeName: mount.name, configMapName: volume.configMap.name, mountPath: mount.mountPath, subPath: mount.subPath ?? "" }];
  });
  return { annotations, mounts };
}

const where = (p: DeploymentMountsProps): string => `Deployment ${p.namespace}/${p.deployment}`;

/** A fresh read: what a refresh reports and a release decides on. */
async function liveDeployment(conn: KubeConnection, p: DeploymentMountsProps): Promise<V1Deployment | undefined> {
  return await getObject(conn, where(p), (api) => api.apps.readNamespacedDeployment({ name: p.deployment, namespace: p.namespace }));
}

/** The preview's read: check() and diff() share one GET (until our own apply, which forgets it). */
async function previewedDeployment(connector: Connector, p: DeploymentMountsProps): Promise<V1Deployment | undefined> {
  return await peekDeployment(await connector(p.cluster), p.namespace, p.deployment);
}

/** A named container that does not exist would be created by the apply, without an image (422): say so plainly. */
function containerProblem(p: DeploymentMountsProps, live: V1Deployment): string | undefined {
  const names = (live.spec?.template?.spec?.containers ?? []).map((c) => c.name);
  return names.includes(p.container)
    ? undefined
    : `${where(p)} has no container ${JSON.stringify(p.container)} (its containers: ${names.map((n) => JSON.stringify(n)).join(", ") || "none"}); ` +
        "set mailserver.container in the stack config to the docker-mailserver container";
}

async function apply(connector: Connector, p: DeploymentMountsProps, dryRun: boolean): Promise<void> {
  const conn = await connector(p.cluster);
  await serverSideApply(conn, { namespace: p.namespace, name: p.deployment }, mountsApplyBody(p), p.fieldManager, { dryRun });
}

/**
 * Gives up every field this manager owns on that Deployment: an apply of the bare object claims
 * nothing, so the server removes what only we owned and keeps what others co-own. A missing
 * Deployment is fine (nothing of ours is left).
 */
async function release(connector: Connector, p: DeploymentMountsProps): Promise<void> {
  const conn = await connector(p.cluster);
  if (!(await liveDeployment(conn, p))) return;
  const bare = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: p.deployment, namespace: p.namespace } };
  await serverSideApply(conn, { namespace: p.namespace, name: p.deployment }, bare, p.fieldManager, { dryRun: false });
}

const TARGET = ["namespace", "deployment", "fieldManager"] as const;
const moved = (olds: DeploymentMountsProps, news: DeploymentMountsProps): boolean =>
  TARGET.some((k) => olds[k] !== news[k]) || olds.cluster?.context !== news.cluster?.context;

export function deploymentMountsProvider(connector: Connector = connect): pulumi.dynamic.ResourceProvider {
  return {
    // At preview: the Deployment and its container exist, and our apply would not conflict.
    async check(_olds: DeploymentMountsProps, news: DeploymentMountsProps) {
      try {
        const live = await previewedDeployment(connector, news);
        const problem = live
          ? containerProblem(news, live)
          : `${where(news)} does not exist; it belongs to the mailserver's own stack, which must create it first`;
        if (problem) return { inputs: news, failures: [{ property: "container", reason: problem }] };
        await apply(connector, news, true);
        return { inputs: news, failures: [] };
      } catch (e) {
        return { inputs: news, failures: [{ property: "mounts", reason: (e as Error).message }] };
      }
    },

    // Against the state and the live object: a mount the owner's stack reverted (its nightly apply)
    // is put back by a plain `pulumi up`, without waiting for a refresh.
    async diff(_id: string, olds: DeploymentMountsProps, news: DeploymentMountsProps) {
      // Field by field in a fixed order: the engine hands the inputs over with their keys sorted.
      const declared = (p: Pick<DeploymentMountsProps, "container" | "annotations" | "mounts">) =>
        JSON.stringify([
          p.container,
          Object.entries(p.annotations).sort(([a], [b]) => a.localeCompare(b)),
          p.mounts.map((m) => [m.volumeName, m.configMapName, m.mountPath, m.subPath]),
        ]);
      if (moved(olds, news) || declared(olds) !== declared(news)) return { changes: true };
      const live = await previewedDeployment(connector, news);
      return { changes: !live || declared({ container: news.container, ...observed(news, live) }) !== declared(news) };
    },

    async create(inputs: DeploymentMountsProps) {
      await apply(connector, inputs, false);
      return { id: `${inputs.fieldManager}@${inputs.namespace}/${inputs.deployment}`, outs: inputs };
    },

    async update(_id: string, olds: DeploymentMountsProps, news: DeploymentMountsProps) {
      // Another Deployment or manager: give the old one up first, so nothing of ours is left there.
      if (moved(olds, news)) await release(connector, olds);
      await apply(connector, news, false);
      return { outs: news };
    },

    async delete(_id: string, props: DeploymentMountsProps) {
      await release(connector, props);
    },

    // refresh: what of ours is really there (a mount removed by hand shows as a change to re-apply).
    async read(id: string, props: DeploymentMountsProps) {
      const live = await liveDeployment(await connector(props.cluster), props);
      return { id, props: { ...props, ...(live ? observed(props, live) : { annotations: {}, mounts: [] }) } };
    },
  };
}

export type DeploymentMountsInputs = { [K in keyof DeploymentMountsProps]: pulumi.Input<DeploymentMountsProps[K]> };
