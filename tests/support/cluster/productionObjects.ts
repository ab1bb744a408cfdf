// The objects the user's cluster already has before this program's first `pulumi up`
// (docs/mailserver.md#the-installation), created as their owner creates them: by a Terraform-like
// client (field manager "Terraform", plain create/update, not server-side apply). The program
// patches and edits these; tests assert that everything here other than the program's own slice
// survives.
import { execFile } from "node:child_process";
import { accountLine } from "../../../core/accountLine";
import { randomText } from "../../../providers/random/randomText";
import { newSalt } from "../mailserver/accountSalt";

export const DOMAIN = "viktorbarzin.me";
export const TERRAFORM_MANAGER = "Terraform";
export const MAILSERVER = {
  namespace: "mailserver",
  deployment: "mailserver",
  container: "docker-mailserver",
  configMap: "mailserver.config",
  service: "mailserver",
  claim: "mailserver-data",
} as const;
export const PAPERLESS = { namespace: "paperless-ngx", deployment: "paperless-ngx", container: "paperless-ngx" } as const;

export interface ProductionObjectsOptions {
  /** docker-mailserver release of the mailserver image; default 15.0.0. */
  dmsVersion?: "15.0.0" | "15.1.0";
  /** paperless-ngx image tag of the paperless Deployment; default 3.0.5. */
  paperlessVersion?: string;
  /** Wait for the first mailserver pod to be Ready (its docker-mailserver up); default true. */
  waitForRollout?: boolean;
  /** Namespace of the mailserver's objects; default "mailserver" (tests of one object use their own). */
  mailserverNamespace?: string;
  /** Create paperless-ngx's namespace and Deployment; default true. */
  paperless?: boolean;
}

/** A mailbox that is not the program's: its address and password (to read its mail in tests). */
export interface ForeignMailbox {
  address: string;
  password: string;
}

export interface ProductionObjects {
  /** The other mailboxes of the shared postfix-accounts.cf: the admin, and spam@ (the catch-all target). */
  readonly mailboxes: { admin: ForeignMailbox; spam: ForeignMailbox };
  /** The data of mailserver.config as created, key by key. */
  readonly configData: Readonly<Record<string, string>>;
}

function foreignConfig(admin: ForeignMailbox, spam: ForeignMailbox): Record<string, string> {
  return {
    // The other mailboxes, one line each, LF with a final newline, as DMS's `setup email add` writes them.
    "postfix-accounts.cf": [admin, spam].map((m) => accountLine(m.address, m.password, newSalt())).join("\n") + "\n",
    // Every real mailbox keeps its own self-alias, or the @domain catch-all would take its mail to spam@.
    "postfix-virtual.cf":
      [`${admin.address} ${admin.address}`, `postmaster@${DOMAIN} ${admin.address}`, `@${DOMAIN} ${spam.address}`].join("\n") + "\n",
    "postfix-main.cf": "message_size_limit = 52428800\n",
    "dovecot.cf": "mail_max_userip_connections = 50\n",
  };
}

/** The objects as a List, in creation order. */
function objects(opts: Required<Omit<ProductionObjectsOptions, "waitForRollout">>, data: Record<string, string>): unknown[] {
  const ms = { ...MAILSERVER, namespace: opts.mailserverNamespace };
  const labels = { app: ms.deployment };
  const configMounts = Object.keys(data).map((key) => ({
    name: "config",
    mountPath: `/tmp/docker-mailserver/${key}`,
    subPath: key,
    readOnly: true,
  }));
  const paperless = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: PAPERLESS.namespace } },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: PAPERLESS.deployment, namespace: PAPERLESS.namespace, labels: { app: PAPERLESS.deployment } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: PAPERLESS.deployment } },
        template: {
          metadata: { labels: { app: PAPERLESS.deployment } },
          spec: { containers: [{ name: PAPERLESS.container, image: `ghcr.io/paperless-ngx/paperless-ngx:${opts.paperlessVersion}` }] },
        },
      },
    },
  ];
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: ms.namespace } },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: ms.configMap, namespace: ms.namespace, annotations: { "reloader.stakater.com/match": "true" } },
      data,
    },
    // The mail volume, bound to its claim up front. The node agent keeps a claim's files in its own
    // directory (<cluster dir>/volumes/<namespace>/<claim>); the hostPath only makes the PV valid.
    {
      apiVersion: "v1",
      kind: "PersistentVolume",
      metadata: { name: `${ms.namespace}-${ms.claim}` },
      spec: {
        capacity: { storage: "1Gi" },
        accessModes: ["ReadWriteOnce"],
        storageClassName: "",
        hostPath: { path: `/srv/${ms.namespace}/${ms.claim}` },
        claimRef: { namespace: ms.namespace, name: ms.claim },
      },
    },
    {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: ms.claim, namespace: ms.namespace },
      spec: {
        accessModes: ["ReadWriteOnce"],
        storageClassName: "",
        volumeName: `${ms.namespace}-${ms.claim}`,
        resources: { requests: { storage: "1Gi" } },
      },
    },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: ms.deployment, namespace: ms.namespace, labels, annotations: { "reloader.stakater.com/search": "true" } },
      spec: {
        replicas: 1,
        // One pod at a time on the ReadWriteOnce mail volume.
        strategy: { type: "Recreate" },
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: [
              {
                name: ms.container,
                image: `docker.io/mailserver/docker-mailserver:${opts.dmsVersion}`,
                env: [{ name: "OVERRIDE_HOSTNAME", value: `mail.${DOMAIN}` }],
                ports: [
                  { name: "smtp", containerPort: 25 },
                  { name: "imap", containerPort: 143 },
                ],
                volumeMounts: [...configMounts, { name: "data", mountPath: "/var/mail" }],
              },
            ],
            volumes: [
              { name: "config", configMap: { name: ms.configMap } },
              { name: "data", persistentVolumeClaim: { claimName: ms.claim } },
            ],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: ms.service, namespace: ms.namespace },
      spec: {
        selector: labels,
        ports: [
          { name: "smtp", port: 25, targetPort: "smtp" },
          { name: "imap", port: 143, targetPort: "imap" },
        ],
      },
    },
    ...(opts.paperless ? paperless : []),
  ];
}

function kubectl(kubectlPath: string, kubeconfig: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(kubectlPath, ["--kubeconfig", kubeconfig, ...args], { maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`kubectl ${args.join(" ")}: ${stderr.trim() || err.message}`)) : resolve(stdout),
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}

export async function installProductionObjects(
  kubectlPath: string,
  kubeconfig: string,
  options: ProductionObjectsOptions = {},
): Promise<ProductionObjects> {
  const opts = {
    dmsVersion: options.dmsVersion ?? "15.0.0",
    paperlessVersion: options.paperlessVersion ?? "3.0.5",
    mailserverNamespace: options.mailserverNamespace ?? MAILSERVER.namespace,
    paperless: options.paperless ?? true,
  } as const;
  const password = () => randomText("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 24);
  const admin = { address: `admin@${DOMAIN}`, password: password() };
  const spam = { address: `spam@${DOMAIN}`, password: password() };
  const data = foreignConfig(admin, spam);
  await kubectl(
    kubectlPath,
    kubeconfig,
    ["create", `--field-manager=${TERRAFORM_MANAGER}`, "-f", "-"],
    JSON.stringify({ apiVersion: "v1", kind: "List", items: objects(opts, data) }),
  );
  if (options.waitForRollout ?? true) {
    const rollouts = [
      [opts.mailserverNamespace, MAILSERVER.deployment],
      ...(opts.paperless ? [[PAPERLESS.namespace, PAPERLESS.deployment]] : []),
    ];
    for (const [ns, name] of rollouts)
      await kubectl(kubectlPath, kubeconfig, ["-n", ns!, "rollout", "status", `deployment/${name}`, "--timeout=300s"]);
  }
  return { mailboxes: { admin, spam }, configData: data };
}
