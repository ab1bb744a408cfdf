// What the program owns on the mailserver Deployment for one mailbox's sieve: the names of its
// ConfigMap, key, volume, mount and field manager, and the server-side apply patch built from
// them. Pure, so the component, the preflight test and the lifecycle test share one derivation.
import { createHash } from "node:crypto";
import { atName, inDir } from "./names";
import { sieveConfigMapKey, sieveFileName } from "./sieve";
import type { Mailbox, MailserverSettings } from "./types";

export const RELOADER_MATCH = "reloader.stakater.com/match";
export const RELOADER_SEARCH = "reloader.stakater.com/search";

/** Names on the mailserver side, all derived from the mailbox (what the program owns there). */
export interface SieveMount {
  configMapName: string;
  key: string;
  volumeName: string;
  mountPath: string;
  /** Server-side apply field manager of the Deployment patch; one per mailbox, or patches would drop each other's fields. */
  fieldManager: string;
}

export function sieveMount(mailbox: Mailbox, mailserver: MailserverSettings): SieveMount {
  // core/config.ts admits only lower-case letters, digits, '.' and '-' before the @, so the
  // at-name is already a valid DNS subdomain and ConfigMap key.
  const slug = atName(mailbox.address);
  // A volume name is a single DNS label of at most 63 characters.
  const label = `sieve-${slug.replace(/\./g, "-")}`;
  const volumeName = label.length <= 63 ? label
    : `${label.slice(0, 52).replace(/-+$/, "")}-${createHash("sha256").update(mailbox.address).digest("hex").slice(0, 10)}`;
  return {
    configMapName: `${mailserver.deployment}-sieve-${slug}`.slice(0, 253),
    key: sieveConfigMapKey(mailbox.address),
    volumeName,
    mountPath: inDir(mailserver.configDir, sieveFileName(mailbox.address)),
    fieldManager: `paperless-mail-ingest-sieve-${slug}`.slice(0, 128),
  };
}

/** The server-side apply patch of the mailserver Deployment: only what the sieve mount needs. */
export function sieveDeploymentPatch(mailbox: Mailbox, mailserver: MailserverSettings) {
  const mount = sieveMount(mailbox, mailserver);
  return {
    apiVersion: "apps/v1" as const,
    kind: "Deployment" as const,
    metadata: {
      name: mailserver.deployment,
      namespace: mailserver.namespace,
      annotations: { [RELOADER_SEARCH]: "true", "pulumi.com/patchFieldManager": mount.fieldManager },
    },
    spec: {
      template: {
        spec: {
          volumes: [{ name: mount.volumeName, configMap: { name: mount.configMapName } }],
          containers: [{
            name: mailserver.container,
            volumeMounts: [{ name: mount.volumeName, mountPath: mount.mountPath, subPath: mount.key, readOnly: true }],
          }],
        },
      },
    },
  };
}
