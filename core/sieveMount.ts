// What the program owns on the mailserver Deployment: per mailbox the names of its sieve
// ConfigMap, key, volume and mount, and for the whole program the one server-side apply patch
// that mounts them all. Pure, so the components, the render and the tests share one derivation.
import { createHash } from "node:crypto";
import { atName, inDir } from "./names";
import { sieveConfigMapKey, sieveFileName } from "./sieve";
import type { Mailbox, MailserverSettings } from "./types";

export const RELOADER_MATCH = "reloader.stakater.com/match";
export const RELOADER_SEARCH = "reloader.stakater.com/search";

/**
 * The one server-side apply field manager of the program on the Deployment. One apply with one
 * manager carries every mailbox's mount: with a manager per mailbox, their patches would fight
 * over `pulumi.com/patchFieldManager`, and one manager with several applies would make each
 * apply drop the fields of the others.
 */
export const DEPLOYMENT_FIELD_MANAGER = "paperless-mail-ingest";

/** Names on the mailserver side, all derived from the mailbox (what the program owns there). */
export interface SieveMount {
  configMapName: string;
  key: string;
  volumeName: string;
  mountPath: string;
}

export function sieveMount(mailbox: Mailbox, mailserver: MailserverSettings): SieveMount {
  // core/config.ts admits before the @ only what a DNS subdomain holds, so the at-name is a valid
  // DNS subdomain and ConfigMap key; core/objectNames.ts checks the lengths and that no two
  // mailboxes share a name.
  const slug = atName(mailbox.address);
  // A volume name is a single DNS label of at most 63 characters.
  const label = `sieve-${slug.replace(/\./g, "-")}`;
  const volumeName = label.length <= 63 ? label
    : `${label.slice(0, 52).replace(/-+$/, "")}-${createHash("sha256").update(mailbox.address).digest("hex").slice(0, 10)}`;
  return {
    configMapName: `${mailserver.deployment}-sieve-${slug}`,
    key: sieveConfigMapKey(mailbox.address),
    volumeName,
    mountPath: inDir(mailserver.configDir, sieveFileName(mailbox.address)),
  };
}

/** The sieve's own ConfigMap: one key, matched by Reloader (a data change rolls the mailserver). */
export function sieveConfigMap(mailbox: Mailbox, mailserver: MailserverSettings, script: string) {
  const mount = sieveMount(mailbox, mailserver);
  return {
    apiVersion: "v1" as const,
    kind: "ConfigMap" as const,
    metadata: {
      name: mount.configMapName,
      namespace: mailserver.namespace,
      labels: { "app.kubernetes.io/part-of": "paperless-mail-ingest", "app.kubernetes.io/managed-by": "pulumi" },
      annotations: { [RELOADER_MATCH]: "true" },
    },
    data: { [mount.key]: script },
  };
}

/**
 * The environment variable Reloader (default env-vars strategy) writes into the mailserver
 * container to roll it when a ConfigMap's data changes: `STAKATER_<NAME>_CONFIGMAP`, the name
 * upper-cased, each run of other characters one `_` except at the start (Reloader's ConvertToEnvVarName).
 */
export function reloaderEnvVar(configMapName: string): string {
  const name = configMapName.toUpperCase().replace(/[^A-Z0-9]+/g, (_run, at: number) => (at === 0 ? "" : "_"));
  return `STAKATER_${name}_CONFIGMAP`;
}

/** One ConfigMap key mounted read-only as a file (subPath) into the container. */
export interface ConfigMapMount {
  volumeName: string;
  configMapName: string;
  mountPath: string;
  subPath: string;
}

/** What the program applies to the mailserver Deployment, as its one field manager. */
export interface DeploymentMounts {
  namespace: string;
  deployment: string;
  container: string;
  fieldManager: string;
  annotations: Record<string, string>;
  mounts: ConfigMapMount[];
}

/** Every mailbox's sieve mount, and the Reloader search annotation that makes Reloader roll the Deployment. */
export function sieveDeploymentMounts(mailboxes: readonly Mailbox[], mailserver: MailserverSettings): DeploymentMounts {
  return {
    namespace: mailserver.namespace,
    deployment: mailserver.deployment,
    container: mailserver.container,
    fieldManager: DEPLOYMENT_FIELD_MANAGER,
    annotations: { [RELOADER_SEARCH]: "true" },
    mounts: mailboxes.map((m) => {
      const mount = sieveMount(m, mailserver);
      return { volumeName: mount.volumeName, configMapName: mount.configMapName, mountPath: mount.mountPath, subPath: mount.key };
    }),
  };
}

/** The server-side apply body: exactly the fields the field manager owns, nothing else. */
export function mountsApplyBody(m: Omit<DeploymentMounts, "fieldManager">) {
  return {
    apiVersion: "apps/v1" as const,
    kind: "Deployment" as const,
    metadata: { name: m.deployment, namespace: m.namespace, annotations: { ...m.annotations } },
    spec: {
      template: {
        spec: {
          volumes: m.mounts.map((v) => ({ name: v.volumeName, configMap: { name: v.configMapName } })),
          containers: [{
            name: m.container,
            volumeMounts: m.mounts.map((v) => ({ name: v.volumeName, mountPath: v.mountPath, subPath: v.subPath, readOnly: true })),
          }],
        },
      },
    },
  };
}

/** The server-side apply patch of the mailserver Deployment: every mailbox's sieve mount, nothing else. */
export function sieveDeploymentPatch(mailboxes: readonly Mailbox[], mailserver: MailserverSettings) {
  return mountsApplyBody(sieveDeploymentMounts(mailboxes, mailserver));
}
