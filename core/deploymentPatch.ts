// What the program applies to the mailserver Deployment: every mailbox's sieve ConfigMap mounted
// (core/sieveConfigMap.ts names them) and Reloader's search annotation, as one server-side apply
// patch of the program's one field manager. Pure, so the component, the render and the tests share it.
import { sieveNames } from "./sieveConfigMap";
import type { Mailbox, MailserverSettings } from "./types";

export const RELOADER_SEARCH = "reloader.stakater.com/search";

/**
 * The one server-side apply field manager of the program on the Deployment. One apply with one
 * manager carries every mailbox's mount: with a manager per mailbox, their patches would fight
 * over `pulumi.com/patchFieldManager`, and one manager with several applies would make each
 * apply drop the fields of the others.
 */
export const DEPLOYMENT_FIELD_MANAGER = "paperless-mail-ingest";

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
export function deploymentMounts(mailboxes: readonly Mailbox[], mailserver: MailserverSettings): DeploymentMounts {
  return {
    namespace: mailserver.namespace,
    deployment: mailserver.deployment,
    container: mailserver.container,
    fieldManager: DEPLOYMENT_FIELD_MANAGER,
    annotations: { [RELOADER_SEARCH]: "true" },
    mounts: mailboxes.map((m) => {
      const names = sieveNames(m, mailserver);
      return { volumeName: names.volumeName, configMapName: names.configMapName, mountPath: names.mountPath, subPath: names.key };
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
          containers: [
            {
              name: m.container,
              volumeMounts: m.mounts.map((v) => ({ name: v.volumeName, mountPath: v.mountPath, subPath: v.subPath, readOnly: true })),
            },
          ],
        },
      },
    },
  };
}

/** The server-side apply patch of the mailserver Deployment: every mailbox's sieve mount, nothing else. */
export function deploymentPatch(mailboxes: readonly Mailbox[], mailserver: MailserverSettings) {
  return mountsApplyBody(deploymentMounts(mailboxes, mailserver));
}
