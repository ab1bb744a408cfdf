// The cluster the program talks to, as the stack names it: the Kubernetes provider, the
// shared-ConfigMap editor and every kubectl command take this one value (stack/kubernetesAccess.ts
// reads it from the stack).

/**
 * The cluster, as the stack config names it (`kubernetes:kubeconfig`, `kubernetes:context`).
 * Built once by stack/kubernetesConnection.ts and handed to the Kubernetes provider, the
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
