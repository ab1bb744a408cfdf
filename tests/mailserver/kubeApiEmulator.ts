// A loopback stand-in for the Kubernetes API, ConfigMaps only: GET and PUT with resourceVersion
// optimistic concurrency and Status bodies as the API conventions specify (404 NotFound,
// 409 Conflict on a stale resourceVersion, 422 Invalid for a bad data key).
import { createServer, IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ConfigMapObject } from "../../providers/kubernetes/kubeClient";

const PATH = /^\/api\/v1\/namespaces\/([^/]+)\/configmaps\/([^/?]+)(?:\?(.*))?$/;
const DATA_KEY = /^[-._a-zA-Z0-9]+$/;

export interface RecordedRequest { method: string; path: string; authorization?: string; fieldManager?: string | null }

export class KubeApiEmulator {
  private server?: Server;
  private version = 100;
  private readonly objects = new Map<string, ConfigMapObject>();
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

  get(namespace: string, name: string): ConfigMapObject | undefined {
    const obj = this.objects.get(`${namespace}/${name}`);
    return obj && structuredClone(obj);
  }

  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    res.writeHead(code, { "content-type": "application/json" });
    res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code }));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
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
