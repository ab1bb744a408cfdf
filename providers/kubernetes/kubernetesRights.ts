// Dynamic provider whose work is in check() and delete(): before anything changes it asks the API
// server (one SelfSubjectRulesReview per namespace) whether the kubeconfig's identity holds every
// right the program is about to use (core/kubernetesRights.ts), and names each missing verb and
// resource, what needs it and the fix. Without it a missing right shows mid-`up`, or never: the
// Kubernetes provider confirms a ConfigMap's delete with a watch, which without list/watch waits
// for ever and says nothing, and `kubectl rollout status` without watch waits out its timeout.
// index.ts makes it depend on every other resource, so at destroy its delete() runs first and a
// destroy that could not finish stops before it has deleted anything.
import type * as pulumi from "@pulumi/pulumi";
import type { KubeTarget } from "../../core/kubeTarget";
import { byNamespace, describeRights, type KubeRight, type KubeRule, notGranted, rightsFor } from "../../core/kubernetesRights";
import { connect, type Connector, type KubeConnection, selfAccess, selfRules } from "./kubeClient";

export interface KubernetesRightsProps {
  /** The cluster (kubeconfig and context); secret with an inline kubeconfig. */
  cluster: KubeTarget;
  rules: KubeRule[];
}

export type KubernetesRightsInputs = { [K in keyof KubernetesRightsProps]: pulumi.Input<KubernetesRightsProps[K]> };

/** The rights of `needed` the identity does not hold. */
export async function missingRights(conn: KubeConnection, needed: readonly KubeRight[]): Promise<KubeRight[]> {
  const missing: KubeRight[] = [];
  for (const [namespace, rights] of byNamespace(needed)) {
    const { rules, incomplete } = await selfRules(conn, namespace);
    let absent = notGranted(rights, rules);
    if (incomplete && absent.length) {
      // Another authorizer (a webhook) may allow what RBAC's list lacks: ask about each of those.
      const allowed = await Promise.all(
        absent.map(({ verb, apiGroup, resource, name }) => {
          const [plain, subresource] = resource.split("/") as [string, string | undefined];
          return selfAccess(conn, {
            namespace,
            verb,
            group: apiGroup,
            resource: plain,
            ...(subresource ? { subresource } : {}),
            ...(name ? { name } : {}),
          });
        }),
      );
      absent = absent.filter((_, i) => !allowed[i]);
    }
    missing.push(...absent);
  }
  return missing;
}

/** Which identity the rights were checked for, as the user configured it (never an inline kubeconfig's text). */
function identity(cluster: KubeTarget): string {
  const file = cluster.kubeconfigText
    ? "the inline kubernetes:kubeconfig"
    : cluster.kubeconfigPath || "the default kubeconfig ($KUBECONFIG or ~/.kube/config)";
  return `the identity of ${file}, ${cluster.context ? `context ${JSON.stringify(cluster.context)}` : "its current context"}`;
}

const FIX = "apply and bind the Role `npm run render` writes (kubernetes-role.yaml; the README's Prerequisites show it)";

/** The message for missing rights, or undefined when none is missing. */
export function rightsProblem(
  cluster: KubeTarget,
  missing: readonly KubeRight[],
  use: "up" | "destroy",
  declared: readonly KubeRule[],
): string | undefined {
  if (!missing.length) return undefined;
  const names = new Set(declared.flatMap((r) => r.names ?? []));
  const removed = missing.some((r) => r.name !== undefined && !names.has(r.name));
  return (
    `Kubernetes: ${identity(cluster)} may not do what ${use === "up" ? "`pulumi up`" : "`pulumi destroy`"} needs; missing:\n` +
    describeRights(missing)
      .map((l) => `  - ${l}`)
      .join("\n") +
    `\n${FIX} and run it again` +
    (removed ? " (the objects of a mailbox being removed stay in the Role until this `up` has deleted them)" : "")
  );
}

async function problem(
  connector: Connector,
  cluster: KubeTarget,
  needed: readonly KubeRight[],
  use: "up" | "destroy",
  declared: readonly KubeRule[],
): Promise<string | undefined> {
  try {
    return rightsProblem(cluster, await missingRights(await connector(cluster), needed), use, declared);
  } catch (e) {
    return `Kubernetes: could not check the rights of ${identity(cluster)}: ${(e as Error).message}`;
  }
}

export function kubernetesRightsProvider(connector: Connector = connect): pulumi.dynamic.ResourceProvider {
  return {
    // What `up` will do with the declared config, plus what it will do to remove what the last
    // `up` declared and this one no longer does (the same as a destroy of those objects).
    async check(olds: Partial<KubernetesRightsProps>, news: KubernetesRightsProps) {
      const needed = [...rightsFor(news.rules, "up"), ...rightsFor(olds.rules ?? [], "destroy")];
      const reason = await problem(connector, news.cluster, needed, "up", news.rules);
      return { inputs: news, failures: reason ? [{ property: "rules", reason }] : [] };
    },
    async diff(_id: string, olds: KubernetesRightsProps, news: KubernetesRightsProps) {
      return { changes: JSON.stringify([olds.cluster, olds.rules]) !== JSON.stringify([news.cluster, news.rules]) };
    },
    async create(inputs: KubernetesRightsProps) {
      return { id: [...new Set(inputs.rules.map((r) => r.namespace))].join(","), outs: inputs };
    },
    async update(_id: string, _olds: KubernetesRightsProps, news: KubernetesRightsProps) {
      return { outs: news };
    },
    async delete(_id: string, props: KubernetesRightsProps) {
      const reason = await problem(connector, props.cluster, rightsFor(props.rules, "destroy"), "destroy", props.rules);
      if (reason) throw new Error(reason);
    },
  };
}
