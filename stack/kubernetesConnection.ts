// The one cluster the program talks to, from the stack config the Kubernetes provider itself
// documents: `kubernetes:kubeconfig` (a file path or the kubeconfig text) and
// `kubernetes:context`. The explicit provider, the shared-ConfigMap editor and every kubectl
// command take it from here, so all of them reach the same cluster as the same identity.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { KubeTarget } from "../core/kubeTarget";
import { kubeTargetFrom } from "./kubernetesAccess";

export function readKubeTarget(): KubeTarget {
  // allConfig: the value may be a secret (inline kubeconfigs hold credentials); it is only ever
  // handed on as a secret (provider input, command environment).
  return kubeTargetFrom(pulumi.runtime.allConfig());
}

/**
 * The program's Kubernetes provider. `enableConfigMapMutable`: a changed sieve must be an update
 * of the ConfigMap in place, which Reloader sees and rolls the mailserver for; by default the
 * provider replaces a ConfigMap whose data changed (delete + create), which Reloader ignores,
 * so the running mail server would keep the old allowlist.
 */
export function kubernetesProvider(name: string, kube: KubeTarget, opts?: pulumi.CustomResourceOptions): k8s.Provider {
  const kubeconfig = kube.kubeconfigText ? pulumi.secret(kube.kubeconfigText) : kube.kubeconfigPath || undefined;
  return new k8s.Provider(
    name,
    {
      ...(kubeconfig !== undefined ? { kubeconfig } : {}),
      ...(kube.context ? { context: kube.context } : {}),
      enableConfigMapMutable: true,
    },
    opts,
  );
}

/** The cluster as the Kubernetes dynamic providers take it: a secret when the kubeconfig is inline (it holds credentials). */
export function clusterInput(kube: KubeTarget): pulumi.Input<KubeTarget> {
  return kube.kubeconfigText ? pulumi.secret(kube) : kube;
}
