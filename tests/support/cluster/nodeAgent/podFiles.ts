// What a container's volume mounts hold, made real on this machine the way the kubelet makes them
// at container start: a ConfigMap or Secret key mounted with subPath is a file with the key's
// content as it is *now* (it never changes afterwards), a whole ConfigMap/Secret volume is a
// directory of its keys, a PersistentVolumeClaim is a directory that outlives every pod using it,
// an emptyDir lives as long as the pod.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { CoreV1Api, V1Container, V1Pod, V1Volume } from "@kubernetes/client-node";
import { type CodedError, codedError, hasCode } from "../../../../core/codedError";

export interface Mount {
  /** Where the container sees it. */
  readonly mountPath: string;
  /** The file or directory on this machine that holds it. */
  readonly hostPath: string;
  readonly readOnly: boolean;
}

const MOUNT_NOT_READY = "MOUNT_NOT_READY";

/**
 * A volume the kubelet could not set up: as the kubelet, the pod stays ContainerCreating (not
 * Ready) and the mount is retried; the message is the kubelet's FailedMount event's.
 */
const mountNotReady = (message: string) => codedError(MOUNT_NOT_READY, message, {});

export const isMountNotReady = (e: unknown): e is CodedError<typeof MOUNT_NOT_READY> => hasCode(e, MOUNT_NOT_READY);

type Keys = Record<string, Buffer>;

async function volumeKeys(core: CoreV1Api, namespace: string, volume: V1Volume): Promise<Keys | undefined> {
  const source = volume.configMap ?? volume.secret;
  if (!source) return undefined;
  const name = volume.configMap?.name ?? volume.secret!.secretName!;
  const kind = volume.configMap ? "configmap" : "secret";
  let keys: Keys;
  try {
    if (volume.configMap) {
      const cm = await core.readNamespacedConfigMap({ name, namespace });
      keys = Object.fromEntries([
        ...Object.entries(cm.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "utf8")] as const),
        ...Object.entries(cm.binaryData ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64")] as const),
      ]);
    } else {
      const secret = await core.readNamespacedSecret({ name, namespace });
      keys = Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64")] as const));
    }
  } catch (e) {
    if ((e as { code?: number }).code !== 404) throw e;
    if (source.optional) return {};
    throw mountNotReady(`${kind} "${name}" not found`);
  }
  // `items` projects chosen keys under chosen paths; without it every key is a file of its name.
  if (!source.items?.length) return keys;
  const projected: Keys = {};
  for (const item of source.items) {
    if (keys[item.key] === undefined) {
      if (source.optional) continue;
      throw mountNotReady(`${kind} "${name}": key "${item.key}" not found`);
    }
    projected[item.path] = keys[item.key]!;
  }
  return projected;
}

/** Mounts of `container`, materialised under `podDir` (per pod) and `volumesDir` (claims, shared). */
export async function prepareMounts(
  core: CoreV1Api,
  pod: V1Pod,
  container: V1Container,
  podDir: string,
  volumesDir: string,
): Promise<Mount[]> {
  const namespace = pod.metadata!.namespace!;
  const volumes = new Map((pod.spec!.volumes ?? []).map((v) => [v.name, v]));
  const mounts: Mount[] = [];
  for (const vm of container.volumeMounts ?? []) {
    const volume = volumes.get(vm.name);
    if (!volume) throw mountNotReady(`volume "${vm.name}" of mount ${vm.mountPath} is not in the pod spec`);
    const readOnly = vm.readOnly ?? false;
    let root: string;
    const keys = await volumeKeys(core, namespace, volume).catch((e: unknown) => {
      if (!isMountNotReady(e)) throw e;
      throw mountNotReady(`MountVolume.SetUp failed for volume "${vm.name}" : ${e.message}`);
    });
    if (keys) {
      // A fresh copy per pod: what the container sees was read at its start.
      root = join(podDir, "volumes", vm.name);
      rmSync(root, { recursive: true, force: true });
      mkdirSync(root, { recursive: true });
      for (const [path, content] of Object.entries(keys)) {
        mkdirSync(dirname(join(root, path)), { recursive: true });
        writeFileSync(join(root, path), content);
      }
    } else if (volume.persistentVolumeClaim) {
      root = join(volumesDir, namespace, volume.persistentVolumeClaim.claimName);
    } else if (volume.emptyDir) {
      root = join(podDir, "volumes", vm.name);
    } else {
      throw mountNotReady(`volume "${vm.name}": only configMap, secret, persistentVolumeClaim and emptyDir volumes run on this node`);
    }
    mkdirSync(root, { recursive: true });
    const hostPath = vm.subPath ? join(root, vm.subPath) : root;
    // As the kubelet does: a subPath missing from the volume is created as an empty directory.
    if (vm.subPath && !keys?.[vm.subPath]) mkdirSync(hostPath, { recursive: true });
    mounts.push({ mountPath: vm.mountPath, hostPath, readOnly });
  }
  return mounts;
}
