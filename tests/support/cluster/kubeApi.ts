// A real Kubernetes control plane on loopback: etcd, kube-apiserver (RBAC on, static admin token)
// and, optionally, kube-controller-manager (the garbage collector the Kubernetes provider's
// foreground deletes wait for, and the Deployment/ReplicaSet controllers a rollout needs).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { binary } from "./binaries";
import { Daemon, startDaemon, waitReady } from "./daemon";
import { kubeconfigText, makePki } from "./pki";
import { freePorts } from "./ports";

export interface KubeApi {
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** An administrator's kubeconfig (group system:masters), one context. */
  readonly kubeconfig: string;
  readonly context: string;
  readonly token: string;
  readonly caFile: string;
  /** Seconds each server took to become ready. */
  readonly timings: Record<string, number>;
  stop(): Promise<void>;
}

export const CONTEXT = "pmi-test";

/** One request as the administrator (another client than the code under test); JSON in, status and body out. */
export function adminRequest(
  api: { server: string; token: string; caFile: string },
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
): Promise<{ status: number; body: string; json: any }> {
  const payload = body === undefined ? undefined : Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      api.server + path,
      {
        method,
        ca: readFileSync(api.caFile),
        timeout: 10_000,
        headers: { authorization: `Bearer ${api.token}`, accept: "application/json", ...(payload ? { "content-type": contentType } : {}) },
      },
      (res) => {
        let text = "";
        res
          .setEncoding("utf8")
          .on("data", (c) => (text += c))
          .on("end", () => {
            let json: unknown;
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
            resolve({ status: res.statusCode ?? 0, body: text, json });
          });
      },
    );
    req
      .on("error", reject)
      .on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)))
      .end(payload);
  });
}

const seconds = (since: number) => Math.round((Date.now() - since) / 100) / 10;

export async function startKubeApi(dir: string, opts: { controllerManager?: boolean } = {}): Promise<KubeApi> {
  mkdirSync(dir, { recursive: true });
  const pki = makePki(dir);
  const [apiPort, etcdClient, etcdPeer] = (await freePorts(3)) as [number, number, number];
  const daemons: Daemon[] = [];
  const stop = async () => {
    // Controllers first, the API server next (it drains), etcd last.
    for (const d of daemons.reverse()) await d.stop();
  };
  const timings: Record<string, number> = {};
  try {
    let t = Date.now();
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const etcd = startDaemon(
      "etcd",
      binary("etcd"),
      [
        "--name",
        "pmi",
        "--data-dir",
        join(dir, "etcd-data"),
        "--listen-client-urls",
        etcdUrl,
        "--advertise-client-urls",
        etcdUrl,
        "--listen-peer-urls",
        `http://127.0.0.1:${etcdPeer}`,
        "--initial-advertise-peer-urls",
        `http://127.0.0.1:${etcdPeer}`,
        "--initial-cluster",
        `pmi=http://127.0.0.1:${etcdPeer}`,
        "--unsafe-no-fsync",
        "--log-level",
        "warn",
      ],
      { logFile: join(dir, "etcd.log") },
    );
    daemons.push(etcd);
    await waitReady(etcd, "health", async () => (await fetch(`${etcdUrl}/health`)).ok);
    timings.etcd = seconds(t);

    t = Date.now();
    const server = `https://127.0.0.1:${apiPort}`;
    const apiserver = startDaemon(
      "kube-apiserver",
      binary("kube-apiserver"),
      [
        "--etcd-servers",
        etcdUrl,
        "--bind-address",
        "127.0.0.1",
        "--advertise-address",
        "127.0.0.1",
        "--secure-port",
        String(apiPort),
        "--tls-cert-file",
        pki.certFile,
        "--tls-private-key-file",
        pki.keyFile,
        "--client-ca-file",
        pki.caFile,
        "--token-auth-file",
        pki.tokenFile,
        "--authorization-mode",
        "RBAC",
        "--allow-privileged=true",
        "--service-account-issuer",
        "https://kubernetes.default.svc",
        "--service-account-key-file",
        pki.serviceAccountPub,
        "--service-account-signing-key-file",
        pki.serviceAccountKey,
        "--service-cluster-ip-range",
        "10.0.0.0/24",
        // No pod gets a token volume (nothing runs inside a pod that would use it).
        "--disable-admission-plugins",
        "ServiceAccount",
        // No kubelet publishes the apiserver's own Endpoints.
        "--endpoint-reconciler-type",
        "none",
        "--cert-dir",
        join(dir, "apiserver-certs"),
      ],
      { logFile: join(dir, "apiserver.log") },
    );
    daemons.push(apiserver);
    const api = { server, token: pki.adminToken, caFile: pki.caFile };
    await waitReady(apiserver, "readyz", async () => (await adminRequest(api, "GET", "/readyz")).body === "ok", {
      timeoutMs: 120_000,
      intervalMs: 200,
    });
    timings.apiserver = seconds(t);

    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(kubeconfig, kubeconfigText({ server, caFile: pki.caFile, token: pki.adminToken, context: CONTEXT, user: "admin" }), {
      mode: 0o600,
    });

    if (opts.controllerManager ?? true) {
      t = Date.now();
      const kcm = startDaemon(
        "kube-controller-manager",
        binary("kube-controller-manager"),
        [
          "--kubeconfig",
          kubeconfig,
          "--authentication-kubeconfig",
          kubeconfig,
          "--authorization-kubeconfig",
          kubeconfig,
          "--bind-address",
          "127.0.0.1",
          "--secure-port",
          "0",
          "--leader-elect=false",
          "--service-account-private-key-file",
          pki.serviceAccountKey,
          "--root-ca-file",
          pki.caFile,
          "--use-service-account-credentials=false",
          "--controllers",
          "*",
        ],
        { logFile: join(dir, "controller-manager.log") },
      );
      daemons.push(kcm);
      // Ready once its controllers run: the root-CA publisher writes this ConfigMap into every namespace at start.
      await waitReady(
        kcm,
        "the kube-root-ca.crt ConfigMap",
        async () => (await adminRequest(api, "GET", "/api/v1/namespaces/default/configmaps/kube-root-ca.crt")).status === 200,
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      timings["controller-manager"] = seconds(t);
    }
    return { server, kubeconfig, context: CONTEXT, token: pki.adminToken, caFile: pki.caFile, timings, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * A kubeconfig (written to `file`) for the ServiceAccount `namespace/name`, created if missing,
 * with a four-hour token from the TokenRequest API (longer than any suite): a user who may do exactly what a test grants.
 */
export async function serviceAccountKubeconfig(api: KubeApi, namespace: string, name: string, file: string): Promise<string> {
  const created = await adminRequest(api, "POST", `/api/v1/namespaces/${namespace}/serviceaccounts`, { metadata: { name } });
  if (created.status !== 201 && created.status !== 409) throw new Error(`creating ServiceAccount ${namespace}/${name}: ${created.body}`);
  const issued = await adminRequest(api, "POST", `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenRequest",
    spec: { expirationSeconds: 4 * 3600 },
  });
  if (issued.status !== 201) throw new Error(`token for ServiceAccount ${namespace}/${name}: ${issued.body}`);
  writeFileSync(
    file,
    kubeconfigText({ server: api.server, caFile: api.caFile, token: issued.json.status.token, context: api.context, user: name }),
    { mode: 0o600 },
  );
  return file;
}
