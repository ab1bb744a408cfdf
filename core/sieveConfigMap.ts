// One mailbox's sieve on the mailserver side: the names of its ConfigMap, key, volume and mount
// (all derived from the mailbox), the ConfigMap itself, and the variable Reloader writes for it.
// Pure, so the components, the render, the doctor and the tests share one derivation.
import { createHash } from "node:crypto";
import { atName, inDir } from "./names";
import { sieveConfigMapKey, sieveFileName } from "./sieve";
import type { Mailbox, MailserverSettings } from "./types";

export const RELOADER_MATCH = "reloader.stakater.com/match";

/** The names of a mailbox's sieve on the mailserver side, all derived from the mailbox (what the program owns there). */
export interface SieveNames {
  configMapName: string;
  key: string;
  volumeName: string;
  mountPath: string;
}

export function sieveNames(mailbox: Mailbox, mailserver: MailserverSettings): SieveNames {
  // stack/config.ts admits before the @ only what a DNS subdomain holds, so the at-name is a valid
  // DNS subdomain and ConfigMap key; core/objectNames.ts checks the lengths and that no two
  // mailboxes share a name.
  const slug = atName(mailbox.address);
  // A volume name is a single DNS label of at most 63 characters.
  const label = `sieve-${slug.replace(/\./g, "-")}`;
  const volumeName =
    label.length <= 63
      ? label
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
  const names = sieveNames(mailbox, mailserver);
  return {
    apiVersion: "v1" as const,
    kind: "ConfigMap" as const,
    metadata: {
      name: names.configMapName,
      namespace: mailserver.namespace,
      labels: { "app.kubernetes.io/part-of": "paperless-mail-ingest", "app.kubernetes.io/managed-by": "pulumi" },
      annotations: { [RELOADER_MATCH]: "true" },
    },
    data: { [names.key]: script },
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
