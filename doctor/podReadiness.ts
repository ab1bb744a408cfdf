// Why a pod is not Ready, in the kubelet's words (its container's state in the pod status), and
// whether its container ever started: a container that never started has no logs, only events
// (`kubectl describe pod`: a volume that cannot be mounted, an image that cannot be pulled).
import { ago } from "./check";
import type { Pod } from "./kubeReads";

export interface NotReady {
  /** E.g. `container docker-mailserver waiting: ContainerCreating, for 3 min`. */
  readonly what: string;
  /** Whether the container ran at all: its logs say more than its events. */
  readonly started: boolean;
}

export const isReady = (pod: Pod) => pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

export function notReady(pod: Pod, container: string, now: Date): NotReady {
  const since = pod.metadata.creationTimestamp ? `, for ${ago(now.getTime() - new Date(pod.metadata.creationTimestamp).getTime())}` : "";
  const status = pod.status?.containerStatuses?.find((c) => c.name === container);
  const state = status?.state ?? {};
  const said = (reason: string | undefined, message: string | undefined) =>
    [reason ?? "no reason given", message].filter(Boolean).join(": ");
  const ranBefore = (status?.restartCount ?? 0) > 0 || status?.lastState?.terminated !== undefined;
  if (state.waiting) {
    return { what: `container ${container} waiting: ${said(state.waiting.reason, state.waiting.message)}${since}`, started: ranBefore };
  }
  if (state.terminated) {
    return {
      what: `container ${container} exited (code ${state.terminated.exitCode}, ${said(state.terminated.reason, state.terminated.message)})${since}`,
      started: true,
    };
  }
  if (state.running) return { what: `container ${container} runs but is not Ready${since}`, started: true };
  return { what: `pod phase ${pod.status?.phase ?? "unknown"}, no status of container ${container} yet${since}`, started: false };
}
