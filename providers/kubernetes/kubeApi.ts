// @kubernetes/client-node's typed API over one KubeConnection, one request at a time: the
// connection's TLS and auth applied to each request, one deadline for the whole exchange, and
// whatever fails translated into an error that names the request (providers/kubernetes/kubeClient.ts
// decides what to retry). The package is loaded when a cluster is first reached, so the paperless
// and Vault providers never pay for it: in the engine's plugin from the one-file bundle of the names
// below that `npm run build` writes beside the compiled module (docs/performance.md#the-kubernetes-client),
// elsewhere (jest, tsx) from the package itself, which is ESM-only (require(esm), Node >= 20.19).
import type * as k8s from "@kubernetes/client-node";
import { existsSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import { join } from "node:path";
import { type CodedError, codedError, hasCode } from "../../core/codedError";

/** Where and how to reach the API server: base URL plus TLS/agent/header options as node:https takes them. */
export interface KubeConnection {
  readonly server: string;
  readonly options: https.RequestOptions;
}

/** The API groups the providers and the doctor use. */
export interface KubeApis {
  readonly core: k8s.CoreV1Api;
  readonly apps: k8s.AppsV1Api;
  readonly authorization: k8s.AuthorizationV1Api;
}

const KUBE_API_ERROR = "KUBE_API_ERROR";

/**
 * What the API server answered, when it was not what we asked for. client-node's ApiException is
 * a class (its `code` the HTTP status), so send() translates it into this, recognised by its code.
 */
export type KubeApiError = CodedError<typeof KUBE_API_ERROR, { status: number; reason: string; retryAfterMs?: number }>;

export const isKubeApiError = (e: unknown): e is KubeApiError => hasCode(e, KUBE_API_ERROR);

/** The HTTP status of an error the API server answered, or undefined for any other error. */
export function apiStatus(e: unknown): number | undefined {
  return isKubeApiError(e) ? e.status : undefined;
}

const CONNECTION_DROPPED = "KUBE_CONNECTION_DROPPED";

/** The connection failed before a whole answer came: worth another try. */
export const isConnectionDropped = (e: unknown): boolean => hasCode(e, CONNECTION_DROPPED);

/** Everything the providers take from @kubernetes/client-node: the bundle holds these names and no others. */
export const CLIENT_NODE_NAMES = [
  "ApiException",
  "AppsV1Api",
  "AuthorizationV1Api",
  "CoreV1Api",
  "KubeConfig",
  "PatchStrategy",
  "ServerConfiguration",
  "createConfiguration",
  "setHeaderOptions",
] as const;

type ClientNode = Pick<typeof k8s, (typeof CLIENT_NODE_NAMES)[number]>;

/** Where build.ts writes the bundle: beside this module's compiled copy in build/. */
export const CLIENT_NODE_BUNDLE = "client-node.bundle.js";

let loaded: ClientNode | undefined;

/** @kubernetes/client-node: the bundle beside this module when there is one (build/), else the package. */
export function clientNode(): ClientNode {
  if (!loaded) {
    const bundle = join(__dirname, CLIENT_NODE_BUNDLE);
    loaded = require(existsSync(bundle) ? bundle : "@kubernetes/client-node") as ClientNode;
  }
  return loaded;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** KUBERNETES_HTTP_TIMEOUT_MS, read per call: the engine's plugin process inherits the CLI's environment. */
function timeoutMs(): number {
  const raw = process.env.KUBERNETES_HTTP_TIMEOUT_MS;
  if (raw === undefined || raw === "") return DEFAULT_TIMEOUT_MS;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`environment variable KUBERNETES_HTTP_TIMEOUT_MS: ${JSON.stringify(raw)} is not a positive number`);
  return n;
}

// One agent per connection, so its TLS settings are built once and its sockets kept alive.
const agents = new WeakMap<KubeConnection, http.Agent>();

/** The connection's own agent (kubeconfig's, with a proxy if it names one), else one made from its TLS options. */
function agentOf(conn: KubeConnection): http.Agent {
  const own = conn.options.agent;
  if (own instanceof http.Agent) return own;
  let agent = agents.get(conn);
  if (!agent) {
    const { ca, cert, key, pfx, passphrase, rejectUnauthorized, servername } = conn.options;
    agent = conn.server.startsWith("http:")
      ? new http.Agent({ keepAlive: true })
      : new https.Agent({
          keepAlive: true,
          ca,
          cert,
          key,
          pfx,
          passphrase,
          servername,
          ...(rejectUnauthorized === undefined ? {} : { rejectUnauthorized }),
        });
    agents.set(conn, agent);
  }
  return agent;
}

/** The request as it went out, for errors that have no answer to quote. */
interface Sent {
  method: string;
  url: string;
}

/** The connection's agent, headers and basic auth on every request, and the deadline's signal. */
function authentication(conn: KubeConnection, signal: AbortSignal, sent: Sent): k8s.SecurityAuthentication {
  return {
    getName: () => "paperless-mail-ingest connection",
    applySecurityAuthentication(context) {
      for (const [name, value] of Object.entries(conn.options.headers ?? {})) {
        if (value !== undefined) context.setHeaderParam(name, Array.isArray(value) ? value.join(", ") : String(value));
      }
      if (conn.options.auth) context.setHeaderParam("Authorization", `Basic ${Buffer.from(conn.options.auth).toString("base64")}`);
      context.setAgent(agentOf(conn));
      context.setSignal(signal);
      sent.method = context.getHttpMethod();
      sent.url = context.getUrl();
    },
  };
}

function apis(conn: KubeConnection, auth: k8s.SecurityAuthentication): KubeApis {
  const k = clientNode();
  const configuration = k.createConfiguration({
    baseServer: new k.ServerConfiguration(conn.server.replace(/\/+$/, ""), {}),
    authMethods: { default: auth },
  });
  return {
    core: new k.CoreV1Api(configuration),
    apps: new k.AppsV1Api(configuration),
    authorization: new k.AuthorizationV1Api(configuration),
  };
}

// Only the API's Status message is quoted: it names the object, never the data we sent.
function apiError(what: string, status: number, body: unknown, headers: Record<string, string>): KubeApiError {
  let json: { reason?: unknown; message?: unknown } | undefined;
  try {
    json = typeof body === "string" && body ? (JSON.parse(body) as typeof json) : undefined;
  } catch {
    json = undefined;
  }
  // client-node drops the body of a 401; its status line says as much.
  const reason = typeof json?.reason === "string" ? json.reason : status === 401 ? "Unauthorized" : "";
  const message = typeof json?.message === "string" ? json.message : "";
  const retryAfter = Number(headers["retry-after"]);
  return codedError(KUBE_API_ERROR, `${what}: HTTP ${status}${reason ? ` ${reason}` : ""}${message ? `: ${message}` : ""}`, {
    status,
    reason,
    ...(retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
  });
}

/**
 * One request through the typed API, `what` naming it in errors. Rejects with a KubeApiError for
 * an answer other than 2xx, with a CONNECTION_DROPPED error when the connection failed before an
 * answer (worth another try), or with the deadline's error, which names the server and the fix.
 */
export async function send<T>(conn: KubeConnection, what: string, request: (api: KubeApis) => Promise<T>): Promise<T> {
  const limit = timeoutMs();
  const deadline = new AbortController();
  const sent: Sent = { method: "", url: conn.server };
  // One deadline for connect, request and response: a black-holed API server otherwise hangs preview forever.
  const timer = setTimeout(() => deadline.abort(), limit);
  try {
    return await request(apis(conn, authentication(conn, deadline.signal, sent)));
  } catch (e) {
    const k = clientNode();
    if (e instanceof k.ApiException) throw apiError(what, e.code, e.body, e.headers);
    if (deadline.signal.aborted) {
      throw new Error(
        `${sent.method} ${sent.url}: the Kubernetes API server ${conn.server} did not answer within ${limit} ms;` +
          " check that the kubeconfig context (kubernetes:context, or the current one) points at a reachable cluster" +
          " (kubectl cluster-info), or raise KUBERNETES_HTTP_TIMEOUT_MS",
      );
    }
    // node-fetch's FetchError of type "system": the connection failed before a whole answer came.
    const failure = e as { name?: string; type?: string; message?: string };
    if (failure.name === "FetchError" && failure.type === "system") {
      const reason = (failure.message ?? "").replace(/^request to \S+ failed, reason: /, "");
      throw codedError(CONNECTION_DROPPED, `${sent.method} ${sent.url}: ${reason}`, {});
    }
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
