// The cluster a stack names: `kubernetes:kubeconfig` (a file path or the kubeconfig text) and
// `kubernetes:context`, as the Kubernetes provider itself reads them. The program
// (stack/kubernetesConnection.ts) and `npm run doctor` both resolve it here.
import { homedir } from "node:os";
import { isAbsolute, resolve } from "node:path";
import type { KubeTarget } from "../core/kubeTarget";
import { isKubeconfigText } from "./stackConfig";

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
