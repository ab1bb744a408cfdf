// The Kubernetes rights the deploying identity needs, derived from the stack config: the one
// source of the Role `npm run render` writes (templates/kubernetes-role.yaml.mustache), the list
// the README shows, what the preview and destroy check before they change anything
// (providers/kubernetes/kubernetesRights.ts), and what the tests bind their ServiceAccount to.
// Each rule says what needs it, so a missing right is named with its reason; which request needs
// which verb is in docs/kubernetes-rights.md.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Mustache from "mustache";
import { sieveNames } from "./sieveConfigMap";
import type { IngestConfig } from "./types";

const TEMPLATE = readFileSync(join(__dirname, "..", "templates", "kubernetes-role.yaml.mustache"), "utf8");

/** The Role's name in every namespace it is rendered for. */
export const ROLE_NAME = "paperless-mail-ingest";

/** What a check is for: `up` (its preview included), `destroy`, or the doctor's read-only look. */
export type RightsUse = "up" | "destroy" | "doctor";

/** One rule of the Role: verbs on one resource (its objects `names`, or any), and what uses them. */
export interface KubeRule {
  readonly namespace: string;
  /** "" for the core group. */
  readonly apiGroup: string;
  /** Plural resource, `<resource>/<subresource>` for a subresource. */
  readonly resource: string;
  /** resourceNames: only these objects; absent for any (a request that names none, such as a list by label). */
  readonly names?: readonly string[];
  /** The verbs each use needs; the Role grants `up`'s, which hold the others (a removed mailbox is deleted by `up` too). */
  readonly uses: Readonly<Record<RightsUse, readonly string[]>>;
  /** What needs them: the Role's comment and the reason in a missing-right message. */
  readonly why: string;
}

/** One verb on one resource (one object when `name` is set) in one namespace. */
export interface KubeRight {
  readonly namespace: string;
  readonly apiGroup: string;
  readonly resource: string;
  readonly verb: string;
  readonly name?: string;
  readonly why: string;
}

export function kubernetesRules(config: Pick<IngestConfig, "mailboxes" | "mailserver">): KubeRule[] {
  const { mailserver } = config;
  const namespace = mailserver.namespace;
  const sieves = config.mailboxes.map((m) => sieveNames(m, mailserver).configMapName);
  // Nothing in paperless's namespace: the fetch after a change goes through paperless's API.
  return [
    {
      namespace,
      apiGroup: "",
      resource: "configmaps",
      names: [mailserver.configMap],
      uses: { up: ["get", "update"], destroy: ["get", "update"], doctor: ["get"] },
      why: "the shared ConfigMap: our account and alias lines, read, then replaced (if unchanged since)",
    },
    {
      namespace,
      apiGroup: "",
      resource: "configmaps",
      names: sieves,
      uses: { up: ["get", "create", "patch", "delete"], destroy: ["get", "delete"], doctor: ["get"] },
      why: "each mailbox's sieve ConfigMap: server-side apply (which creates it), read, delete",
    },
    {
      namespace,
      apiGroup: "",
      resource: "configmaps",
      uses: { up: ["list", "watch"], destroy: ["list", "watch"], doctor: [] },
      why: "the Kubernetes provider confirms a delete by watching ConfigMaps (without: it waits for ever)",
    },
    {
      namespace,
      apiGroup: "apps",
      resource: "deployments",
      names: [mailserver.deployment],
      uses: { up: ["get", "list", "watch", "patch"], destroy: ["get", "list", "watch", "patch"], doctor: ["get"] },
      why: "the sieve mounts, Reloader's variable; `kubectl rollout status` (list, watch), `exec` (get)",
    },
    {
      namespace,
      apiGroup: "",
      resource: "pods",
      uses: { up: ["list"], destroy: ["list"], doctor: ["list"] },
      why: "`kubectl exec deploy/…` finds its pod by the Deployment's selector",
    },
    {
      namespace,
      apiGroup: "",
      resource: "pods/exec",
      uses: { up: ["create"], destroy: ["create"], doctor: ["create"] },
      why: "`kubectl exec`: the installed-sieve check, the Processed folder, the sieve removal at destroy",
    },
  ];
}

/** The single rights a use needs, one per verb and named object. */
export function rightsFor(rules: readonly KubeRule[], use: RightsUse): KubeRight[] {
  return rules.flatMap((rule) => {
    const { namespace, apiGroup, resource, why } = rule;
    return rule.uses[use].flatMap((verb) =>
      rule.names
        ? rule.names.map((name) => ({ namespace, apiGroup, resource, verb, name, why }))
        : [{ namespace, apiGroup, resource, verb, why }],
    );
  });
}

/** A rule as the API server's SelfSubjectRulesReview lists it (`*` matches all). */
export interface GrantedRule {
  readonly verbs: readonly string[];
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly resourceNames?: readonly string[];
}

// Whether `rule` grants `right`, matched as RBAC matches a request: `*` for any verb, group or
// resource, `*/<subresource>` for that subresource of any resource.
function grants(rule: GrantedRule, right: KubeRight): boolean {
  const subresource = right.resource.split("/")[1];
  const verb = rule.verbs.includes("*") || rule.verbs.includes(right.verb);
  const group = (rule.apiGroups ?? []).some((g) => g === "*" || g === right.apiGroup);
  const res = (rule.resources ?? []).some(
    (r) => r === "*" || r === right.resource || (subresource !== undefined && r === `*/${subresource}`),
  );
  const names = !rule.resourceNames?.length || (right.name !== undefined && rule.resourceNames.includes(right.name));
  return verb && group && res && names;
}

/** The rights of `needed` that no granted rule covers. */
export function notGranted(needed: readonly KubeRight[], granted: readonly GrantedRule[]): KubeRight[] {
  return needed.filter((right) => !granted.some((rule) => grants(rule, right)));
}

/** Rights by namespace, in first-seen order, without duplicates. */
export function byNamespace(rights: readonly KubeRight[]): Map<string, KubeRight[]> {
  const out = new Map<string, KubeRight[]>();
  const seen = new Set<string>();
  for (const r of rights) {
    const key = JSON.stringify([r.namespace, r.apiGroup, r.resource, r.verb, r.name ?? null]);
    if (seen.has(key)) continue;
    seen.add(key);
    out.set(r.namespace, [...(out.get(r.namespace) ?? []), r]);
  }
  return out;
}

const resourceText = (r: Pick<KubeRight, "apiGroup" | "resource">) => (r.apiGroup ? `${r.resource}.${r.apiGroup}` : r.resource);

/** `watch configmaps`, `get, update configmaps "mailserver.config"`: the missing rights a person reads, one line per rule. */
export function describeRights(rights: readonly KubeRight[]): string[] {
  const lines = new Map<string, { verbs: string[]; names: string[]; why: string; what: string }>();
  for (const r of rights) {
    const key = JSON.stringify([r.namespace, r.apiGroup, r.resource, r.why]);
    const line = lines.get(key) ?? { verbs: [], names: [], why: r.why, what: `${resourceText(r)} in namespace ${r.namespace}` };
    if (!line.verbs.includes(r.verb)) line.verbs.push(r.verb);
    if (r.name !== undefined && !line.names.includes(r.name)) line.names.push(r.name);
    lines.set(key, line);
  }
  return [...lines.values()].map(
    (l) => `${l.verbs.join(", ")} ${l.what}${l.names.length ? ` (${l.names.map((n) => JSON.stringify(n)).join(", ")})` : ""}: ${l.why}`,
  );
}

const flow = (xs: readonly string[]) => `[${xs.map((x) => JSON.stringify(x)).join(", ")}]`;

/** The Role (one per namespace) as `kubectl apply -f` takes it, with a comment per rule saying what needs it. */
export function kubernetesRole(config: Pick<IngestConfig, "mailboxes" | "mailserver" | "paperless">): string {
  const rules = kubernetesRules(config);
  const namespaces = [...new Set(rules.map((r) => r.namespace))];
  return Mustache.render(
    TEMPLATE,
    {
      name: ROLE_NAME,
      roles: namespaces.map((namespace) => ({
        namespace,
        rules: rules
          .filter((r) => r.namespace === namespace)
          .map((r) => ({
            why: r.why,
            apiGroups: flow([r.apiGroup]),
            resources: flow([r.resource]),
            verbs: flow(r.uses.up),
            ...(r.names ? { resourceNames: flow(r.names) } : {}),
          })),
      })),
    },
    {},
    { escape: (v: string) => v },
  );
}
