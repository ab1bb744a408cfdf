// Which pod `kubectl exec deploy/NAME` and a Service pick, as kubectl orders them
// (k8s.io/kubectl/pkg/util/podutils ActivePods, most active first).
import type { V1LabelSelector, V1Pod } from "@kubernetes/client-node";

/** A Deployment's selector as a label-selector query string. */
export function selectorString(selector: V1LabelSelector | undefined): string {
  const parts = Object.entries(selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of selector?.matchExpressions ?? []) {
    const values = `(${(e.values ?? []).join(",")})`;
    parts.push(
      e.operator === "In"
        ? `${e.key} in ${values}`
        : e.operator === "NotIn"
          ? `${e.key} notin ${values}`
          : e.operator === "Exists"
            ? e.key
            : `!${e.key}`,
    );
  }
  return parts.join(",");
}

const PHASE_RANK: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };
const time = (t: Date | string | undefined) => (t ? new Date(t).getTime() : undefined);
const readySince = (p: V1Pod) => time(p.status?.conditions?.find((c) => c.type === "Ready" && c.status === "True")?.lastTransitionTime);
const restarts = (p: V1Pod) => Math.max(0, ...(p.status?.containerStatuses ?? []).map((c) => c.restartCount));

/** Negative when a is more active than b. */
function moreActive(a: V1Pod, b: V1Pod): number {
  const keys: [number, number][] = [
    [a.spec?.nodeName ? 1 : 0, b.spec?.nodeName ? 1 : 0], // assigned
    [PHASE_RANK[a.status?.phase ?? ""] ?? 0, PHASE_RANK[b.status?.phase ?? ""] ?? 0], // Running > Unknown > Pending
    [readySince(a) !== undefined ? 1 : 0, readySince(b) !== undefined ? 1 : 0], // ready
    [-(readySince(a) ?? 0), -(readySince(b) ?? 0)], // ready longer
    [-restarts(a), -restarts(b)], // fewer restarts
    [-(time(a.metadata?.creationTimestamp) ?? Infinity), -(time(b.metadata?.creationTimestamp) ?? Infinity)], // older
  ];
  for (const [x, y] of keys) if (x !== y) return y - x;
  return 0;
}

export function mostActivePod(pods: readonly V1Pod[]): V1Pod | undefined {
  return [...pods].sort(moreActive)[0];
}
