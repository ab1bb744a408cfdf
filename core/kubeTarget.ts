// The cluster a stack names: `kubernetes:kubeconfig` (a file path or the kubeconfig text) and
// `kubernetes:context`, as the Kubernetes provider itself reads them. The program
// (components/kubernetesConnection.ts) and `npm run doctor` both resolve it here.
import { homedir } from "node:os";
import { isAbsolute, resolve } from "node:path";
import { isKubeconfigText } from "./stackConfig";

/**
 * The cluster, as the stack config names it (`kubernetes:kubeconfig`, `kubernetes:context`).
 * Built once by components/kubernetesConnection.ts and handed to the Kubernetes provider, the
 * shared-ConfigMap editor and every kubectl command, so all of them talk to one cluster.
 */
export interface KubeTarget {
  /** An absolute kubeconfig path; "" for kubectl's default ($KUBECONFIG, then ~/.kube/config). */
  readonly kubeconfigPath: string;
  /** kubeconfig text given inline in `kubernetes:kubeconfig` (secret); "" when none. */
  readonly kubeconfigText: string;
  /** kubeconfig context; "" for its current one. */
  readonly context: string;
}

/**
 * The cluster from a stack's whole config (`pulumi.runtime.allConfig()`, or `pulumi config --json`
 * for the doctor); a relative kubeconfig path is taken from `baseDir`, where `pulumi` runs.
 */
export function kubeTargetFrom(config: Readonly<Record<string, string | undefined>>, baseDir: string = process.cwd()): KubeTarget {
  const value = config["kubernetes:kubeconfig"] ?? "";
  const kubeconfig = value.trim();
  const context = (config["kubernetes:context"] ?? "").trim();
  if (kubeconfig && isKubeconfigText(kubeconfig)) return { kubeconfigPath: "", kubeconfigText: value, context };
  // A path is made absolute now: the commands and plugins run from other working directories.
  const path = kubeconfig.startsWith("~/") ? resolve(homedir(), kubeconfig.slice(2)) : kubeconfig;
  return { kubeconfigPath: path && !isAbsolute(path) ? resolve(baseDir, path) : path, kubeconfigText: "", context };
}

