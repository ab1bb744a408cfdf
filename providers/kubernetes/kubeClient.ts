// The few Kubernetes API calls the dynamic providers need: GET and PUT of one ConfigMap, the PUT
// conditional on the resourceVersion read (409 Conflict when someone wrote in between), server-side
// apply, and the access reviews of the rights check. Idempotent requests (GET, apply, reviews) are retried with backoff when the connection drops or
// the server asks to come back (429, 5xx); a PUT is never re-sent as is: the edit is re-applied
// to a fresh read instead, so a write that landed before its answer was lost is not doubled.
// Authentication comes from @kubernetes/client-node so every kubeconfig form kubectl accepts
// (exec plugins, OIDC, client certificates, tokens) works the same here.
import type { KubeTarget } from "../../core/kubectlCommands";
import * as http from "node:http";
import * as https from "node:https";
import { remembered } from "../processMemory";

/** Where and how to reach the API server: base URL plus TLS/agent/header options for node:https. */
export interface KubeConnection {
  readonly server: string;
  readonly options: https.RequestOptions;
}

export interface ConfigMapObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    managedFields?: { manager?: string; operation?: string; fieldsV1?: Record<string, unknown> }[];
    [k: string]: unknown;
  };
  data?: Record<string, string>;
  immutable?: boolean;
  [k: string]: unknown;
}

/** What the API server answered, when it was not what we asked for: an Error with properties, recognised by `status` (apiStatus). */
type KubeApiError = Error & { status: number; reason: string; retryAfterMs?: number };

/** The HTTP status of an error the API server answered, or undefined for any other error. */
function apiStatus(e: unknown): number | undefined {
  const status = (e as { status?: unknown } | undefined)?.status;
  return typeof status === "number" ? status : undefined;
}

/** The field manager our writes are recorded under in managedFields. */
const FIELD_MANAGER = "paperless-mail-ingest";

// What this client remembers for the rest of the operation (providers/processMemory.ts), shared by
// every resource of it.
interface KubeProcessState {
  /** Tail of the chain of edits per ConfigMap: `<server> <namespace>/<name>`. */
  edits: Map<string, Promise<void>>;
  /** Per cluster target (kubeconfig and context): the loaded config and the connection resolved from it. */
  connections: Map<string, { kc: KubeConfig; at: number; connection?: Promise<KubeConnection> }>;
  /** Preview-time reads per ConfigMap (same key as edits), until this process edits it. */
  reads: Map<string, Promise<ConfigMapObject | undefined>>;
}

function processState(): KubeProcessState {
  return remembered("kubernetes client", () => ({ edits: new Map(), connections: new Map(), reads: new Map() }));
}

type KubeConfig = import("@kubernetes/client-node").KubeConfig;

/** How long one resolved connection (headers, TLS agent) is reused before the auth is applied afresh. */
const CONNECTION_TTL_MS = 60_000;

async function resolveConnection(kc: KubeConfig, context: string): Promise<KubeConnection> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`kubeconfig has no cluster for context ${JSON.stringify(context || kc.getCurrentContext())}`);
  const options: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(options);
  return { server: cluster.server.replace(/\/+$/, ""), options };
}

/** How a provider reaches a cluster: connect() itself, or in tests a fixed connection (a real apiserver, or the fault proxy before it). */
export type Connector = (cluster: KubeTarget) => Promise<KubeConnection>;

/**
 * The cluster the program's Kubernetes provider uses (components/kubernetesConnection.ts): the
 * kubeconfig of `kubernetes:kubeconfig` (a file, or its text) or else the default one ($KUBECONFIG,
 * ~/.kube/config), and `kubernetes:context` or else its current context. Loaded once per target
 * and process, and the connection reused for a minute: every resource's check/create/read calls
 * this. Re-applying the auth from the same loaded config after that is cheap (an exec plugin's
 * token is cached by it until it expires) and keeps a long `up` from holding on to an expired token.
 */
export async function connect(target: KubeTarget): Promise<KubeConnection> {
  const cache = processState().connections;
  const key = JSON.stringify([target.kubeconfigPath, target.kubeconfigText, target.context]);
  let entry = cache.get(key);
  if (!entry) {
    // ESM-only package, loaded with require(esm) (Node >= 20.19) only when a cluster is first reached:
    // jest, which loads this module in the tests, cannot load it (they pass their own Connector).
    const { KubeConfig } = require("@kubernetes/client-node") as typeof import("@kubernetes/client-node");
    const kc = new KubeConfig();
    if (target.kubeconfigText) kc.loadFromString(target.kubeconfigText);
    else if (target.kubeconfigPath) kc.loadFromFile(target.kubeconfigPath);
    else kc.loadFromDefault();
    if (target.context) kc.setCurrentContext(target.context);
    entry = { kc, at: 0 };
    cache.set(key, entry);
  }
  if (!entry.connection || Date.now() - entry.at >= CONNECTION_TTL_MS) {
    const current = entry;
    const pending = resolveConnection(current.kc, target.context);
    current.connection = pending;
    current.at = Date.now();
    // A failed resolution is not kept: the next call tries again.
    pending.catch(() => { if (current.connection === pending) delete current.connection; });
  }
  return entry.connection!;
}

function configMapPath(namespace: string, name: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${encodeURIComponent(name)}`;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** KUBERNETES_HTTP_TIMEOUT_MS, read per call: the engine's plugin process inherits the CLI's environment. */
function timeoutMs(): number {
  const raw = process.env.KUBERNETES_HTTP_TIMEOUT_MS;
  if (raw === undefined || raw === "") return DEFAULT_TIMEOUT_MS;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`environment variable KUBERNETES_HTTP_TIMEOUT_MS: ${JSON.stringify(raw)} is not a positive number`);
  return n;
}

interface Answer { status: number; json: any; retryAfterMs?: number }

async function call(conn: KubeConnection, method: "GET" | "PUT" | "PATCH" | "POST", path: string, body?: unknown,
  contentType = "application/json"): Promise<Answer> {
  const url = new URL(conn.server + path);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const transport = url.protocol === "http:" ? http : https;
  const limit = timeoutMs();
  return new Promise((resolve, reject) => {
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const fail = (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(timedOut
        ? new Error(`${method} ${url.origin}${path}: the Kubernetes API server ${conn.server} did not answer within ${limit} ms;`
          + ` check that the kubeconfig context (kubernetes:context, or the current one) points at a reachable cluster`
          + ` (kubectl cluster-info), or raise KUBERNETES_HTTP_TIMEOUT_MS`)
        // The connection failed before an answer: `dropped` marks it as worth another try.
        : Object.assign(new Error(`${method} ${url.origin}${path}: ${e.message}`), { dropped: true }));
    };
    const req = transport.request(url, {
      ...conn.options,
      method,
      headers: {
        ...conn.options.headers,
        accept: "application/json",
        ...(payload ? { "content-type": contentType, "content-length": payload.length } : {}),
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString("utf8");
        let json: unknown;
        try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
        const retryAfter = Number(res.headers["retry-after"]);
        resolve({ status: res.statusCode ?? 0, json, ...(retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}) });
      });
      res.on("error", fail);
      res.on("aborted", () => fail(new Error("response aborted")));
    });
    req.on("error", fail);
    // One deadline for connect, request and response: a black-holed API server otherwise hangs preview forever.
    timer = setTimeout(() => { timedOut = true; req.destroy(); }, limit);
    req.end(payload);
  });
}

// Only the API's Status message is quoted: it names the object, never the data we sent.
function apiError(what: string, { status, json, retryAfterMs }: Answer): KubeApiError {
  const reason = typeof json?.reason === "string" ? json.reason : "";
  const message = typeof json?.message === "string" ? json.message : "";
  return Object.assign(new Error(`${what}: HTTP ${status}${reason ? ` ${reason}` : ""}${message ? `: ${message}` : ""}`),
    { name: "KubeApiError", status, reason, ...(retryAfterMs ? { retryAfterMs } : {}) });
}

/** Answers worth asking again: overload (429, with Retry-After) and the server's own failures. */
const RETRIED_STATUS = new Set([429, 500, 502, 503, 504]);

/** A failure another try may not have: the connection dropped, or a 429/5xx answer. */
function transient(e: unknown): boolean {
  const status = apiStatus(e);
  return status !== undefined ? RETRIED_STATUS.has(status) : (e as { dropped?: boolean } | undefined)?.dropped === true;
}

const RETRY_ATTEMPTS = 4;

/** Jittered exponential pause before attempt `attempt + 1`; a Retry-After the server sent wins (at most 10 s). */
function backoff(attempt: number, e: unknown, baseMs = 250): Promise<void> {
  const asked = (e as { retryAfterMs?: number } | undefined)?.retryAfterMs;
  const base = baseMs * 2 ** (attempt - 1);
  const ms = asked ? Math.min(asked, 10_000) : base / 2 + Math.random() * base;
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * An idempotent request, tried up to RETRY_ATTEMPTS times while it fails transiently. Answers
 * other than those (404, 409, 422, …) are returned to the caller as they are. A POST here is a
 * review (an access question the server answers and keeps nothing of).
 */
async function idempotent(conn: KubeConnection, what: string, method: "GET" | "PATCH" | "POST", path: string, body?: unknown, contentType?: string): Promise<Answer> {
  for (let attempt = 1; ; attempt++) {
    try {
      const answer = await call(conn, method, path, body, contentType);
      if (RETRIED_STATUS.has(answer.status)) throw apiError(what, answer);
      return answer;
    } catch (e) {
      if (!transient(e)) throw e;
      if (attempt >= RETRY_ATTEMPTS) throw Object.assign(e as Error, { message: `${(e as Error).message} (gave up after ${attempt} attempts)` });
      await backoff(attempt, e);
    }
  }
}

/** The ConfigMap, or undefined if it does not exist. */
export async function getConfigMap(conn: KubeConnection, namespace: string, name: string): Promise<ConfigMapObject | undefined> {
  const what = `reading ConfigMap ${namespace}/${name}`;
  const answer = await idempotent(conn, what, "GET", configMapPath(namespace, name));
  if (answer.status === 404) return undefined;
  if (answer.status !== 200) throw apiError(what, answer);
  return answer.json as ConfigMapObject;
}

/** PUT back an object read earlier; its metadata.resourceVersion makes the write conditional. */
async function replaceConfigMap(conn: KubeConnection, cm: ConfigMapObject): Promise<ConfigMapObject> {
  const namespace = cm.metadata.namespace ?? "";
  const answer = await call(conn, "PUT", `${configMapPath(namespace, cm.metadata.name)}?fieldManager=${FIELD_MANAGER}`, cm);
  if (answer.status !== 200) throw apiError(`writing ConfigMap ${namespace}/${cm.metadata.name}`, answer);
  return answer.json as ConfigMapObject;
}

/**
 * The ConfigMap as a check at preview sees it: one GET serves every resource of this process
 * (the account and alias lines of every mailbox read the same object) until this process edits
 * it. Writes never use this: they read afresh for the resourceVersion they are conditional on.
 */
export function peekConfigMap(conn: KubeConnection, namespace: string, name: string): Promise<ConfigMapObject | undefined> {
  const reads = processState().reads;
  const key = `${conn.server} ${namespace}/${name}`;
  let pending = reads.get(key);
  if (!pending) {
    pending = getConfigMap(conn, namespace, name);
    reads.set(key, pending);
    const mine = pending;
    // A failed read is not kept: the next check asks again.
    mine.catch(() => { if (reads.get(key) === mine) reads.delete(key); });
  }
  return pending;
}

/** Field managers recorded as owning `data.<key>` (who else writes this key). */
export function keyManagers(cm: ConfigMapObject, key: string): string[] {
  const owners = (cm.metadata.managedFields ?? []).filter((m) => {
    const data = m.fieldsV1?.["f:data"];
    return data !== null && typeof data === "object" && `f:${key}` in data;
  });
  return [...new Set(owners.map((m) => m.manager ?? "(unnamed manager)"))];
}

/**
 * Run `task` after every earlier task of this process with the same key has settled. Every
 * mailbox adds two writers (account and alias line) to the one shared ConfigMap, all started in
 * parallel by the engine; racing them through 409 retries makes all but one lose each round, so
 * from a few mailboxes on the last one runs out of attempts. In line, each wins first time.
 */
function serialized<T>(key: string, task: () => Promise<T>): Promise<T> {
  const edits = processState().edits;
  const run = (edits.get(key) ?? Promise.resolve()).then(task);
  const tail = run.then(() => undefined, () => undefined);
  edits.set(key, tail);
  void tail.then(() => { if (edits.get(key) === tail) edits.delete(key); });
  return run;
}

/**
 * Read-modify-write of one data key. `edit` gets the current text (and the object, for error
 * messages) and returns the new text, or undefined for "no change". Edits of one ConfigMap by this
 * process run one at a time; a 409 then means another client wrote in between: read again and
 * re-apply the edit to their version (after a jittered pause), so no concurrent edit is lost.
 * A PUT that failed transiently (dropped connection, 429, 5xx) may or may not have landed: the
 * same re-read tells, and re-applying an edit that is already there changes nothing.
 */
export function editConfigMapKey(
  conn: KubeConnection, namespace: string, name: string, key: string,
  edit: (text: string, cm: ConfigMapObject) => string | undefined,
  options: { attempts?: number; missing?: "error" | "ignore"; backoffMs?: number } = {},
): Promise<"changed" | "unchanged" | "missing"> {
  const target = `${conn.server} ${namespace}/${name}`;
  return serialized(target, async () => {
    const attempts = options.attempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      const cm = await getConfigMap(conn, namespace, name);
      if (!cm) {
        if (options.missing === "ignore") return "missing";
        throw new Error(`ConfigMap ${namespace}/${name} does not exist; it belongs to the mailserver's own stack, which must create it first`);
      }
      const text = cm.data?.[key] ?? "";
      const next = edit(text, cm);
      if (next === undefined || next === text) return "unchanged";
      if (cm.immutable) throw new Error(`ConfigMap ${namespace}/${name} is immutable; its key ${key} cannot be edited`);
      try {
        // managedFields left out: the server then keeps them and records our change under FIELD_MANAGER.
        const { managedFields: _, ...metadata } = cm.metadata;
        try {
          await replaceConfigMap(conn, { ...cm, metadata, data: { ...cm.data, [key]: next } });
        } finally {
          // After our write (a failed one may have landed too) a memoized preview read is stale.
          processState().reads.delete(target);
        }
        return "changed";
      } catch (e) {
        const conflict = apiStatus(e) === 409;
        if (!(conflict || transient(e))) throw e;
        if (attempt >= attempts) {
          throw new Error(conflict
            ? `ConfigMap ${namespace}/${name}: still conflicting after ${attempts} attempts (${(e as Error).message})`
            : `ConfigMap ${namespace}/${name}: gave up after ${attempts} attempts (${(e as Error).message})`);
        }
        // Jittered, so writers in other processes that lost the same round do not retry in lockstep.
        await backoff(attempt, e, options.backoffMs ?? 200);
      }
    }
  });
}

/** Any object by its API path, or undefined if it does not exist; `what` names it in errors. */
export async function getObject(conn: KubeConnection, path: string, what: string): Promise<unknown> {
  const answer = await idempotent(conn, `reading ${what}`, "GET", path);
  if (answer.status === 404) return undefined;
  if (answer.status !== 200) throw apiError(`reading ${what}`, answer);
  return answer.json;
}

/**
 * Server-side apply of `body` as `fieldManager`, without force: a field another manager owns
 * with another value gives 409 Conflict naming that manager and the fields; an object that does
 * not exist, its 404. With dryRun nothing changes (the check a preview makes). Retried like a
 * read: applying the same body as the same manager again gives the same object.
 */
export async function serverSideApply(conn: KubeConnection, path: string, body: unknown, fieldManager: string,
  opts: { dryRun: boolean }): Promise<void> {
  const query = `?${opts.dryRun ? "dryRun=All&" : ""}fieldManager=${encodeURIComponent(fieldManager)}`;
  const what = `server-side apply${opts.dryRun ? " (dry run)" : ""} of ${path} as ${fieldManager}`;
  // JSON is YAML: the apply patch type accepts it as is.
  const answer = await idempotent(conn, what, "PATCH", path + query, body, "application/apply-patch+yaml");
  if (answer.status === 200 || answer.status === 201) return;
  // An apply creates what is missing, so for an absent object the server complains about the
  // fields our patch leaves out (422); the object's own 404 says what is wrong.
  if (answer.status === 422) {
    const object = await idempotent(conn, what, "GET", path);
    if (object.status === 404) throw apiError(what, object);
  }
  throw apiError(what, answer);
}

/** A rule as a SelfSubjectRulesReview lists it. */
export interface ReviewedRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
}

/**
 * The caller's rules in one namespace (SelfSubjectRulesReview; every authenticated user may ask,
 * through the default ClusterRole system:basic-user). `incomplete`: an authorizer other than RBAC
 * (a webhook) may allow more than the list shows.
 */
export async function selfRules(conn: KubeConnection, namespace: string): Promise<{ rules: ReviewedRule[]; incomplete: boolean }> {
  const what = `asking the API server which rights the kubeconfig's identity has in namespace ${namespace} (SelfSubjectRulesReview)`;
  const answer = await idempotent(conn, what, "POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
    { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectRulesReview", spec: { namespace } });
  if (answer.status !== 201 && answer.status !== 200) throw apiError(what, answer);
  const status = answer.json?.status ?? {};
  return { rules: status.resourceRules ?? [], incomplete: status.incomplete === true };
}

/** Whether the caller may do one request (SelfSubjectAccessReview, which every authorizer answers). */
export async function selfAccess(conn: KubeConnection, attributes: { namespace: string; verb: string; group: string; resource: string; subresource?: string; name?: string }): Promise<boolean> {
  const what = `asking the API server whether the kubeconfig's identity may ${attributes.verb} ${attributes.resource} in namespace ${attributes.namespace} (SelfSubjectAccessReview)`;
  const answer = await idempotent(conn, what, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
    { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview", spec: { resourceAttributes: attributes } });
  if (answer.status !== 201 && answer.status !== 200) throw apiError(what, answer);
  return answer.json?.status?.allowed === true;
}
