// The few Kubernetes API calls the dynamic providers and the doctor need, made with
// @kubernetes/client-node's typed API (./kubeApi.ts): GET and PUT of one ConfigMap, the PUT
// conditional on the resourceVersion read (409 Conflict when someone wrote in between), reads,
// server-side apply of a Deployment, and the access reviews of the rights check. What is ours:
// idempotent requests (GET, apply, reviews) are retried with backoff when the connection drops or
// the server asks to come back (429, 5xx); a PUT is never re-sent as is: the edit is re-applied
// to a fresh read instead, so a write that landed before its answer was lost is not doubled.
// The kubeconfig is read by client-node too, so every form kubectl accepts (exec plugins, OIDC,
// client certificates, tokens) works the same here.
import type { KubeTarget } from "../../core/kubeTarget";
import type { KubeConfig, V1ConfigMap, V1Deployment, V1ObjectMeta, V1ResourceRule } from "@kubernetes/client-node";
import { remembered } from "../processMemory";
import { apiStatus, clientNode, isConnectionDropped, isKubeApiError, type KubeApis, type KubeConnection, send } from "./kubeApi";

export type { KubeConnection } from "./kubeApi";

/** A ConfigMap as the API server sends it (which always includes its metadata). */
export type ConfigMapObject = V1ConfigMap & { metadata: V1ObjectMeta & { name: string } };

/** The field manager our writes are recorded under in managedFields. */
const FIELD_MANAGER = "paperless-mail-ingest";

// What this client remembers for the rest of the operation (providers/processMemory.ts), shared by
// every resource of it.
interface KubeProcessState {
  /** Tail of the chain of edits per ConfigMap: `<server> <namespace>/<name>`. */
  edits: Map<string, Promise<void>>;
  /** Per cluster target (kubeconfig and context): the loaded config and the connection resolved from it. */
  connections: Map<string, { kc: KubeConfig; at: number; connection?: Promise<KubeConnection> }>;
  /** Preview-time reads per object (objectKey), until this process writes it. */
  reads: Map<string, Promise<unknown>>;
}

function processState(): KubeProcessState {
  return remembered("kubernetes client", () => ({ edits: new Map(), connections: new Map(), reads: new Map() }));
}

/** How long one resolved connection (headers, TLS agent) is reused before the auth is applied afresh. */
const CONNECTION_TTL_MS = 60_000;

async function resolveConnection(kc: KubeConfig, context: string): Promise<KubeConnection> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`kubeconfig has no cluster for context ${JSON.stringify(context || kc.getCurrentContext())}`);
  const options: KubeConnection["options"] = {};
  await kc.applyToHTTPSOptions(options);
  return { server: cluster.server.replace(/\/+$/, ""), options };
}

/** How a provider reaches a cluster: connect() itself, or in tests a fixed connection (a real apiserver, or the fault proxy before it). */
export type Connector = (cluster: KubeTarget) => Promise<KubeConnection>;

/**
 * The cluster the program's Kubernetes provider uses (stack/kubernetesConnection.ts): the
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
    const kc = new (clientNode().KubeConfig)();
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
    pending.catch(() => {
      if (current.connection === pending) delete current.connection;
    });
  }
  return entry.connection!;
}

/** Answers worth asking again: overload (429, with Retry-After) and the server's own failures. */
const RETRIED_STATUS = new Set([429, 500, 502, 503, 504]);

/** A failure another try may not have: the connection dropped, or a 429/5xx answer. */
function transient(e: unknown): boolean {
  const status = apiStatus(e);
  return status !== undefined ? RETRIED_STATUS.has(status) : isConnectionDropped(e);
}

const RETRY_ATTEMPTS = 4;

/** Jittered exponential pause before attempt `attempt + 1`; a Retry-After the server sent wins (at most 10 s). */
function backoff(attempt: number, e: unknown, baseMs = 250): Promise<void> {
  const asked = isKubeApiError(e) ? e.retryAfterMs : undefined;
  const base = baseMs * 2 ** (attempt - 1);
  const ms = asked ? Math.min(asked, 10_000) : base / 2 + Math.random() * base;
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * An idempotent request, tried up to RETRY_ATTEMPTS times while it fails transiently. Answers
 * other than those (404, 409, 422, …) reach the caller as they are. A POST here is a review (an
 * access question the server answers and keeps nothing of).
 */
async function idempotent<T>(conn: KubeConnection, what: string, request: (api: KubeApis) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send(conn, what, request);
    } catch (e) {
      if (!transient(e)) throw e;
      if (attempt >= RETRY_ATTEMPTS)
        throw Object.assign(e as Error, { message: `${(e as Error).message} (gave up after ${attempt} attempts)` });
      await backoff(attempt, e);
    }
  }
}

/** One object (or list) read through the typed API, or undefined if it does not exist; `what` names it in errors. */
export async function getObject<T>(conn: KubeConnection, what: string, read: (api: KubeApis) => Promise<T>): Promise<T | undefined> {
  try {
    return await idempotent(conn, `reading ${what}`, read);
  } catch (e) {
    if (apiStatus(e) === 404) return undefined;
    throw e;
  }
}

/** The ConfigMap, or undefined if it does not exist. */
export async function getConfigMap(conn: KubeConnection, namespace: string, name: string): Promise<ConfigMapObject | undefined> {
  return (await getObject(conn, `ConfigMap ${namespace}/${name}`, (api) => api.core.readNamespacedConfigMap({ name, namespace }))) as
    ConfigMapObject | undefined;
}

/** PUT back an object read earlier; its metadata.resourceVersion makes the write conditional. */
async function replaceConfigMap(conn: KubeConnection, cm: ConfigMapObject): Promise<void> {
  const { name, namespace = "" } = cm.metadata;
  await send(conn, `writing ConfigMap ${namespace}/${name}`, (api) =>
    api.core.replaceNamespacedConfigMap({ name, namespace, body: cm, fieldManager: FIELD_MANAGER }),
  );
}

/** One object of one cluster, as the memoized preview reads know it (a ConfigMap and a Deployment may share a name). */
const objectKey = (conn: KubeConnection, kind: "ConfigMap" | "Deployment", namespace: string, name: string): string =>
  `${conn.server} ${kind} ${namespace}/${name}`;

/** One GET per object and process, shared by every caller until forgetRead(key) (our own write). */
function memoizedRead<T>(key: string, read: () => Promise<T>): Promise<T> {
  const reads = processState().reads;
  let pending = reads.get(key) as Promise<T> | undefined;
  if (!pending) {
    pending = read();
    reads.set(key, pending);
    const mine = pending;
    // A failed read is not kept: the next caller asks again.
    mine.catch(() => {
      if (reads.get(key) === mine) reads.delete(key);
    });
  }
  return pending;
}

const forgetRead = (key: string): void => void processState().reads.delete(key);

/**
 * The ConfigMap as a check at preview sees it: one GET serves every resource of this process
 * (the account and alias lines of every mailbox read the same object) until this process edits
 * it. Writes never use this: they read afresh for the resourceVersion they are conditional on.
 */
export function peekConfigMap(conn: KubeConnection, namespace: string, name: string): Promise<ConfigMapObject | undefined> {
  return memoizedRead(objectKey(conn, "ConfigMap", namespace, name), () => getConfigMap(conn, namespace, name));
}

/**
 * The Deployment as a preview sees it: the check and the diff of the one DeploymentMountsPatch
 * share one GET, until this process applies to it (serverSideApply forgets it).
 */
export function peekDeployment(conn: KubeConnection, namespace: string, name: string): Promise<V1Deployment | undefined> {
  return memoizedRead(objectKey(conn, "Deployment", namespace, name), () =>
    getObject(conn, `Deployment ${namespace}/${name}`, (api) => api.apps.readNamespacedDeployment({ name, namespace })),
  );
}

/** Field managers recorded as owning `data.<key>` (who else writes this key). */
export function keyManagers(cm: ConfigMapObject, key: string): string[] {
  const owners = (cm.metadata.managedFields ?? []).filter((m) => {
    // client-node types fieldsV1 as any: it is the server's field set, a JSON object.
    const data = (m.fieldsV1 as Record<string, unknown> | undefined)?.["f:data"];
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
  const tail = run.then(
    () => undefined,
    () => undefined,
  );
  edits.set(key, tail);
  void tail.then(() => {
    if (edits.get(key) === tail) edits.delete(key);
  });
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
  conn: KubeConnection,
  namespace: string,
  name: string,
  key: string,
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
        throw new Error(
          `ConfigMap ${namespace}/${name} does not exist; it belongs to the mailserver's own stack, which must create it first`,
        );
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
          forgetRead(objectKey(conn, "ConfigMap", namespace, name));
        }
        return "changed";
      } catch (e) {
        const conflict = apiStatus(e) === 409;
        if (!(conflict || transient(e))) throw e;
        if (attempt >= attempts) {
          throw new Error(
            conflict
              ? `ConfigMap ${namespace}/${name}: still conflicting after ${attempts} attempts (${(e as Error).message})`
              : `ConfigMap ${namespace}/${name}: gave up after ${attempts} attempts (${(e as Error).message})`,
          );
        }
        // Jittered, so writers in other processes that lost the same round do not retry in lockstep.
        await backoff(attempt, e, options.backoffMs ?? 200);
      }
    }
  });
}

/**
 * Server-side apply of `body` to a Deployment as `fieldManager`, without force: a field another
 * manager owns with another value gives 409 Conflict naming that manager and the fields; a
 * Deployment that does not exist, its 404. With dryRun nothing changes (the check a preview makes).
 * Retried like a read: applying the same body as the same manager again gives the same object.
 */
export async function serverSideApply(
  conn: KubeConnection,
  deployment: { namespace: string; name: string },
  body: object,
  fieldManager: string,
  opts: { dryRun: boolean },
): Promise<void> {
  const { namespace, name } = deployment;
  const path = `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/deployments/${encodeURIComponent(name)}`;
  const what = `server-side apply${opts.dryRun ? " (dry run)" : ""} of ${path} as ${fieldManager}`;
  const { PatchStrategy, setHeaderOptions } = clientNode();
  try {
    // JSON is YAML: the apply patch type accepts the body client-node writes as JSON.
    await idempotent(conn, what, (api) =>
      api.apps.patchNamespacedDeployment(
        { name, namespace, body, fieldManager, ...(opts.dryRun ? { dryRun: "All" } : {}) },
        setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply),
      ),
    );
  } catch (e) {
    // An apply creates what is missing, so for an absent object the server complains about the
    // fields our patch leaves out (422); the object's own 404 says what is wrong.
    if (apiStatus(e) === 422) {
      const absent = await idempotent(conn, what, (api) => api.apps.readNamespacedDeployment({ name, namespace })).then(
        () => undefined,
        (g: unknown) => g,
      );
      if (apiStatus(absent) === 404) throw absent;
    }
    throw e;
  } finally {
    // After a real apply (a failed one may have landed too) a memoized preview read is stale.
    if (!opts.dryRun) forgetRead(objectKey(conn, "Deployment", namespace, name));
  }
}

/** A rule as a SelfSubjectRulesReview lists it. */
export type ReviewedRule = V1ResourceRule;

/**
 * The caller's rules in one namespace (SelfSubjectRulesReview; every authenticated user may ask,
 * through the default ClusterRole system:basic-user). `incomplete`: an authorizer other than RBAC
 * (a webhook) may allow more than the list shows.
 */
export async function selfRules(conn: KubeConnection, namespace: string): Promise<{ rules: ReviewedRule[]; incomplete: boolean }> {
  const what = `asking the API server which rights the kubeconfig's identity has in namespace ${namespace} (SelfSubjectRulesReview)`;
  const review = await idempotent(conn, what, (api) =>
    api.authorization.createSelfSubjectRulesReview({
      body: { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectRulesReview", spec: { namespace } },
    }),
  );
  return { rules: review.status?.resourceRules ?? [], incomplete: review.status?.incomplete === true };
}

/** Whether the caller may do one request (SelfSubjectAccessReview, which every authorizer answers). */
export async function selfAccess(
  conn: KubeConnection,
  attributes: { namespace: string; verb: string; group: string; resource: string; subresource?: string; name?: string },
): Promise<boolean> {
  const what = `asking the API server whether the kubeconfig's identity may ${attributes.verb} ${attributes.resource} in namespace ${attributes.namespace} (SelfSubjectAccessReview)`;
  const review = await idempotent(conn, what, (api) =>
    api.authorization.createSelfSubjectAccessReview({
      body: { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview", spec: { resourceAttributes: attributes } },
    }),
  );
  return review.status?.allowed === true;
}
