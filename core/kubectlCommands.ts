// kubectl command lines run where `pulumi` runs (by @pulumi/command), aimed at the cluster the
// program's Kubernetes provider uses. Pure text, so the tests run the same strings.
import type { KubeTarget } from "./kubeTarget";
import { shellQuote } from "./shellQuote";

/** A container of a Deployment in that cluster. */
export interface PodTarget {
  readonly kube: KubeTarget;
  readonly namespace: string;
  readonly deployment: string;
  readonly container: string;
}

export function podTarget(kube: KubeTarget, where: { namespace: string; deployment: string; container: string }): PodTarget {
  return { kube, namespace: where.namespace, deployment: where.deployment, container: where.container };
}

/** Environment variable through which an inline kubeconfig reaches the command (never its text). */
export const INLINE_KUBECONFIG_VAR = "PAPERLESS_MAIL_INGEST_KUBECONFIG";

/**
 * The environment a command needs for its kubectl to reach the target cluster. An inline
 * kubeconfig travels as a variable (the component marks it secret), not in the command line.
 */
export function kubectlEnvironment(kube: KubeTarget): Record<string, string> {
  if (kube.kubeconfigText) return { [INLINE_KUBECONFIG_VAR]: kube.kubeconfigText };
  if (kube.kubeconfigPath) return { KUBECONFIG: kube.kubeconfigPath };
  return {};
}

/** Prefix of every script (kubectlScript): an inline kubeconfig is written to a private temp file for kubectl. */
const PREAMBLE =
  `if [ -n "\${${INLINE_KUBECONFIG_VAR}:-}" ]; then` +
  ` KUBECONFIG=$(mktemp) || exit 1; export KUBECONFIG; trap 'rm -f "$KUBECONFIG"' EXIT;` +
  ` printf '%s\\n' "$${INLINE_KUBECONFIG_VAR}" > "$KUBECONFIG"; fi;`;

function kubectl(target: PodTarget): string {
  const context = target.kube.context ? ` --context ${shellQuote(target.kube.context)}` : "";
  return `kubectl${context} -n ${shellQuote(target.namespace)}`;
}

function exec(target: PodTarget, argv: readonly string[]): string {
  return `${kubectl(target)} exec deploy/${shellQuote(target.deployment)} -c ${shellQuote(target.container)} -- ${argv.map(shellQuote).join(" ")}`;
}

/** `kubectl exec` of argv (no shell in between) in the target container. */
export function kubectlExec(target: PodTarget, argv: readonly string[]): string {
  return exec(target, argv);
}

export interface RetryOptions {
  /** How many times the rollout wait + script are tried. */
  readonly attempts: number;
  readonly pauseSeconds: number;
  /** Printed to stderr when every attempt failed: what was waited for and what to check. */
  readonly failure: string;
}

/**
 * Run `script` with sh in the target container once the Deployment has rolled out, retrying
 * until it succeeds: Reloader restarts the pod for our own ConfigMap edits just when these
 * commands run, and `kubectl exec deploy/…` may still reach the old pod for a moment.
 */
export function execWhenRolledOut(target: PodTarget, script: string, retry: RetryOptions): string {
  return (
    `i=0; until ${kubectl(target)} rollout status deploy/${shellQuote(target.deployment)} --timeout=300s >/dev/null` +
    ` && ${exec(target, ["sh", "-c", script])};` +
    ` do i=$((i+1)); if [ "$i" -ge ${retry.attempts} ]; then echo ${shellQuote(retry.failure)} >&2; exit 1; fi;` +
    ` sleep ${retry.pauseSeconds}; done`
  );
}

/**
 * Remove the variable Reloader wrote into the container to roll it for one of our ConfigMaps,
 * so a rollback leaves the Deployment as it found it (a strategic-merge delete by name: a no-op
 * when the variable is not there, and no field of any other manager is touched).
 */
export function removeEnvVar(target: PodTarget, name: string): string {
  const patch = JSON.stringify({
    spec: { template: { spec: { containers: [{ name: target.container, env: [{ name, $patch: "delete" }] }] } } },
  });
  const jsonPath = `{.spec.template.spec.containers[?(@.name==${JSON.stringify(target.container)})].env[?(@.name==${JSON.stringify(name)})].name}`;
  return (
    `if [ -n "$(${kubectl(target)} get deploy/${shellQuote(target.deployment)} -o jsonpath=${shellQuote(jsonPath)})" ]; then` +
    ` ${kubectl(target)} patch deploy/${shellQuote(target.deployment)} --type strategic -p ${shellQuote(patch)} >/dev/null || exit 1; fi`
  );
}

/** The script a command runs: the kubeconfig preamble, then the steps, stopping at the first failure. */
export function kubectlScript(...steps: readonly string[]): string {
  return `${PREAMBLE} ${steps.map((s) => `{ ${s}; } || exit 1;`).join(" ")}`;
}
