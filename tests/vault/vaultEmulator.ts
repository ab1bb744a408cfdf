// A loopback stand-in for the one Vault endpoint the write preflight calls, following Vault's
// documented contract:
// - POST /v1/sys/capabilities-self {"paths": [...]} answers {"<path>": [caps…], …}, plus
//   "capabilities" when exactly one path was asked (api-docs/system/capabilities-self).
// - An unknown token, or one used outside its namespace (X-Vault-Namespace), gets
//   403 {"errors": ["permission denied"]}.
// - Policies (docs/concepts/policies): a rule path is exact, or ends in `*` (prefix glob), and
//   may hold `+` for exactly one segment. A token's policies merge into one ACL; the matching
//   rule of highest priority decides; `deny` there wins over everything, no match is `deny`.
//   The root token has `root` everywhere.
import * as http from "node:http";
import type { AddressInfo } from "node:net";

/** rule path -> capabilities, as in an ACL policy's `path "…" { capabilities = […] }`. */
export type VaultPolicy = Record<string, string[]>;

interface TokenEntry { policies: VaultPolicy[]; root: boolean; namespace: string }

export interface RecordedRequest { method: string; path: string; token: string | undefined; namespace: string | undefined; body: unknown }

function matches(rule: string, path: string): boolean {
  const glob = rule.endsWith("*");
  const ruleSegs = (glob ? rule.slice(0, -1) : rule).split("/");
  const pathSegs = path.split("/");
  if (!glob && ruleSegs.length !== pathSegs.length) return false;
  if (glob && pathSegs.length < ruleSegs.length) return false;
  return ruleSegs.every((seg, i) => {
    const actual = pathSegs[i]!;
    if (seg === "+") return true;
    // The glob's last segment is a prefix of the path's segment (`secret/data/app*` matches `app1/x`).
    if (glob && i === ruleSegs.length - 1) return pathSegs.slice(i).join("/").startsWith(seg);
    return seg === actual;
  });
}

/**
 * Vault's "priority matching" of two rules that both match (docs/concepts/policies), as a sort
 * comparator putting the higher priority first. P1 is lower priority when: its first `+` or `*`
 * comes earlier; it ends in `*` and P2 does not; it has more `+` segments; it is shorter; it is
 * lexicographically smaller.
 */
function byPriority(p1: string, p2: string): number {
  const firstWild = (p: string) => { const i = p.search(/[+*]/); return i < 0 ? Infinity : i; };
  const plusCount = (p: string) => p.split("/").filter((s) => s === "+").length;
  const lower = (a: string, b: string): boolean | undefined => {
    if (firstWild(a) !== firstWild(b)) return firstWild(a) < firstWild(b);
    if (a.endsWith("*") !== b.endsWith("*")) return a.endsWith("*");
    if (plusCount(a) !== plusCount(b)) return plusCount(a) > plusCount(b);
    if (a.length !== b.length) return a.length < b.length;
    return a === b ? undefined : a < b;
  };
  const r = lower(p1, p2);
  return r === undefined ? 0 : r ? 1 : -1;
}

/**
 * A token's policies are merged into one ACL first (the same rule path in several policies
 * unions its capabilities), then the highest-priority matching rule alone decides.
 */
export function capabilitiesOf(policies: readonly VaultPolicy[], path: string): string[] {
  const acl = new Map<string, Set<string>>();
  for (const policy of policies) {
    for (const [rule, caps] of Object.entries(policy)) {
      const merged = acl.get(rule) ?? new Set<string>();
      for (const c of caps) merged.add(c);
      acl.set(rule, merged);
    }
  }
  const rule = [...acl.keys()].filter((r) => matches(r, path)).sort(byPriority)[0];
  const caps = rule ? acl.get(rule)! : new Set<string>();
  if (caps.has("deny") || caps.size === 0) return ["deny"];
  return [...caps].sort();
}

export class VaultEmulator {
  readonly requests: RecordedRequest[] = [];
  /** "sealed": every call 503 {"errors":["Vault is sealed"]}; "hang": never answers. */
  mode: "normal" | "sealed" | "hang" = "normal";
  private readonly tokens = new Map<string, TokenEntry>();
  private server?: http.Server;
  url = "";

  /** A token with these policies; `namespace` confines it to that Vault namespace. */
  addToken(token: string, policies: VaultPolicy[], opts: { namespace?: string } = {}): this {
    this.tokens.set(token, { policies, root: false, namespace: opts.namespace ?? "" });
    return this;
  }

  addRootToken(token: string): this {
    this.tokens.set(token, { policies: [], root: true, namespace: "" });
    return this;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => this.handle(req, Buffer.concat(chunks).toString("utf8"), res));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private handle(req: http.IncomingMessage, text: string, res: http.ServerResponse): void {
    let body: any;
    try { body = text ? JSON.parse(text) : undefined; } catch { body = undefined; }
    const token = req.headers["x-vault-token"] as string | undefined;
    const namespace = req.headers["x-vault-namespace"] as string | undefined;
    this.requests.push({ method: req.method ?? "", path: req.url ?? "", token, namespace, body });
    const send = (status: number, json: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(json));
    };
    if (this.mode === "hang") return;
    if (this.mode === "sealed") return send(503, { errors: ["Vault is sealed"] });
    if (req.method !== "POST" || req.url !== "/v1/sys/capabilities-self") return send(404, { errors: [] });
    const entry = token ? this.tokens.get(token) : undefined;
    if (!entry || entry.namespace !== (namespace ?? "").replace(/^\/+|\/+$/g, "")) return send(403, { errors: ["permission denied"] });
    const paths = body?.paths;
    if (!Array.isArray(paths) || paths.length === 0) return send(400, { errors: ["missing required 'paths' parameter"] });
    const answer: Record<string, string[]> = {};
    for (const p of paths as string[]) answer[p] = entry.root ? ["root"] : capabilitiesOf(entry.policies, p);
    if (paths.length === 1) answer["capabilities"] = answer[paths[0] as string]!;
    send(200, answer);
  }
}
