// A loopback stand-in for the Kubernetes API. ConfigMaps: GET and PUT with resourceVersion
// optimistic concurrency and Status bodies as the API conventions specify (404 NotFound,
// 409 Conflict on a stale resourceVersion, 422 Invalid for a bad data key). Deployments: only a
// server-side apply dry run, with field ownership per leaf and list items identified by their
// merge keys, answering a foreign owner's differing value with the API server's 409 message.
import { createServer, IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ConfigMapObject } from "../../providers/kubernetes/kubeClient";

const PATH = /^\/api\/v1\/namespaces\/([^/]+)\/configmaps\/([^/?]+)(?:\?(.*))?$/;
const DATA_KEY = /^[-._a-zA-Z0-9]+$/;
const APPLY_PATH = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/deployments\/([^/?]+)\?(.*)$/;
// Merge keys of the Deployment lists our patch touches (from the Kubernetes API's patch strategy).
const MERGE_KEYS: Record<string, string> = { volumes: "name", containers: "name", volumeMounts: "mountPath" };

/** Leaves of an applied object in managedFields-like notation: `.spec.template.spec.volumes[name="x"].configMap.name`. */
export function fieldLeaves(value: unknown, path = ""): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (Array.isArray(value)) {
    const key = MERGE_KEYS[path.slice(path.lastIndexOf(".") + 1)];
    value.forEach((item, i) => {
      const id = key ? `[${key}=${JSON.stringify((item as Record<string, unknown>)[key])}]` : `[${i}]`;
      for (const [k, v] of fieldLeaves(item, path + id)) out.set(k, v);
    });
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) for (const [p, x] of fieldLeaves(v, `${path}.${k}`)) out.set(p, x);
  } else out.set(path, value);
  return out;
}

export interface RecordedRequest { method: string; path: string; authorization?: string; fieldManager?: string | null }

export class KubeApiEmulator {
  private server?: Server;
  private version = 100;
  private readonly objects = new Map<string, ConfigMapObject>();
  /** Deployment field owners: `<ns>/<name>` -> leaf path -> { manager, value }. */
  private readonly deploymentFields = new Map<string, Map<string, { manager: string; value: unknown }>>();
  readonly requests: RecordedRequest[] = [];
  /** Runs after a PUT body is parsed and before it is applied: lets a test write "concurrently". */
  beforePut?: (namespace: string, name: string) => void;

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server!.close(() => r()));
  }

  /** Seed or overwrite an object directly, as another client would; bumps resourceVersion. */
  put(namespace: string, name: string, data: Record<string, string>, managedFields?: ConfigMapObject["metadata"]["managedFields"]): ConfigMapObject {
    const previous = this.objects.get(`${namespace}/${name}`);
    const obj: ConfigMapObject = {
      apiVersion: "v1", kind: "ConfigMap",
      metadata: { ...previous?.metadata, name, namespace, resourceVersion: String(++this.version), ...(managedFields ? { managedFields } : {}) },
      data,
    };
    this.objects.set(`${namespace}/${name}`, obj);
    return structuredClone(obj);
  }

  /** A Deployment whose fields `manager` owns, as an applied object (e.g. Terraform's own sieve mount). */
  putDeployment(namespace: string, name: string, manager: string, applied: unknown): void {
    const owned = this.deploymentFields.get(`${namespace}/${name}`) ?? new Map();
    for (const [path, value] of fieldLeaves(applied)) owned.set(path, { manager, value });
    this.deploymentFields.set(`${namespace}/${name}`, owned);
  }

  get(namespace: string, name: string): ConfigMapObject | undefined {
    const obj = this.objects.get(`${namespace}/${name}`);
    return obj && structuredClone(obj);
  }

  private dryRunApply(req: IncomingMessage, res: ServerResponse, match: RegExpExecArray, body: string): void {
    const query = new URLSearchParams(match[3]);
    const manager = query.get("fieldManager");
    this.requests.push({ method: "PATCH", path: req.url ?? "", fieldManager: manager,
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    if (req.headers["content-type"] !== "application/apply-patch+yaml") return this.status(res, 415, "UnsupportedMediaType", `the body of the request was in an unknown format`);
    if (!manager) return this.status(res, 400, "BadRequest", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch");
    if (query.get("dryRun") !== "All") return this.status(res, 400, "BadRequest", "this emulator only answers server-side apply dry runs");
    const [namespace, name] = [decodeURIComponent(match[1]!), decodeURIComponent(match[2]!)];
    const owned = this.deploymentFields.get(`${namespace}/${name}`);
    if (!owned) return this.status(res, 404, "NotFound", `deployments.apps "${name}" not found`);
    const conflicts = [...fieldLeaves(JSON.parse(body))].filter(([path, value]) => {
      const owner = owned.get(path);
      return owner !== undefined && owner.manager !== manager && JSON.stringify(owner.value) !== JSON.stringify(value);
    });
    if (conflicts.length) {
      const list = conflicts.map(([path]) => `conflict with "${owned.get(path)!.manager}" using apps/v1: ${path}`);
      return this.status(res, 409, "Conflict",
        `Apply failed with ${conflicts.length} conflict${conflicts.length > 1 ? "s" : ""}: ${list.join("\n")}`);
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(body);
  }

  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    res.writeHead(code, { "content-type": "application/json" });
    res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code }));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const apply = APPLY_PATH.exec(req.url ?? "");
    if (apply && req.method === "PATCH") return this.dryRunApply(req, res, apply, Buffer.concat(chunks).toString("utf8"));
    const match = PATH.exec(req.url ?? "");
    this.requests.push({
      method: req.method ?? "", path: req.url ?? "",
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      fieldManager: new URLSearchParams(match?.[3] ?? "").get("fieldManager"),
    });
    if (!match) return this.status(res, 404, "NotFound", `the server could not find the requested resource`);
    const [namespace, name] = [decodeURIComponent(match[1]!), decodeURIComponent(match[2]!)];
    const key = `${namespace}/${name}`;
    const current = this.objects.get(key);
    if (!current) return this.status(res, 404, "NotFound", `configmaps "${name}" not found`);
    if (req.method === "GET") {
      res.writeHead(200, { "content-type": "application/json" });
      return void res.end(JSON.stringify(current));
    }
    if (req.method !== "PUT") return this.status(res, 405, "MethodNotAllowed", `the server does not allow this method on the requested resource`);
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as ConfigMapObject;
    if (body.metadata?.name !== name || (body.metadata.namespace && body.metadata.namespace !== namespace)) {
      return this.status(res, 400, "BadRequest", `the name of the object (${body.metadata?.name}) does not match the name on the URL (${name})`);
    }
    this.beforePut?.(namespace, name);
    const live = this.objects.get(key)!;
    if (body.metadata.resourceVersion && body.metadata.resourceVersion !== live.metadata.resourceVersion) {
      return this.status(res, 409, "Conflict",
        `Operation cannot be fulfilled on configmaps "${name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    const badKey = Object.keys(body.data ?? {}).find((k) => !DATA_KEY.test(k));
    if (badKey !== undefined) return this.status(res, 422, "Invalid", `ConfigMap "${name}" is invalid: data[${badKey}]: Invalid value`);
    // As the API server does: managedFields omitted from an update are kept, not cleared.
    const stored: ConfigMapObject = {
      ...body,
      metadata: { ...body.metadata, namespace, resourceVersion: String(++this.version), managedFields: body.metadata.managedFields ?? live.metadata.managedFields },
    };
    this.objects.set(key, stored);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(stored));
  }
}
