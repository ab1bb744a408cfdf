// Every dynamic provider, by the key its resources record in their state. The state holds only a
// shim naming the key (resource.ts), and the engine's plugin process looks the key up here, in the
// compiled build (load.js). So a key is frozen like a type token once anyone has deployed: a
// provider may move to another module (change the import), but its key stays; a renamed kind
// keeps its old key here too, next to the new one, or its existing resources can no longer be
// refreshed or destroyed.
import type * as pulumi from "@pulumi/pulumi";
import { configMapLinesProvider } from "../kubernetes/configMapLines";
import { deploymentMountsProvider } from "../kubernetes/deploymentMounts";
import { kubernetesRightsProvider } from "../kubernetes/kubernetesRights";
import { mailFetchProvider } from "../paperless/mailFetchProvider";
import { mailAccountProvider, mailRuleProvider, tagProvider } from "../paperless/provider";
import { randomTextProvider } from "../random/randomText";
import { vaultWritePreflightProvider } from "../vault/vaultPreflight";
import { PACKED_KINDS, packedProvider } from "./packed";

/** `<family>:<resource class>`, family = the folder under providers/ (see dynamicType). */
export const PROVIDERS = {
  "kubernetes:ConfigMapLines": () => configMapLinesProvider(),
  "kubernetes:DeploymentMountsPatch": () => deploymentMountsProvider(),
  "kubernetes:KubernetesRights": () => kubernetesRightsProvider(),
  "paperless:PaperlessMailAccount": () => mailAccountProvider,
  "paperless:PaperlessMailFetch": () => mailFetchProvider(),
  "paperless:PaperlessMailRule": () => packedProvider(mailRuleProvider, PACKED_KINDS["paperless:PaperlessMailRule"]!),
  "paperless:PaperlessTag": () => tagProvider,
  "random:RandomText": () => randomTextProvider,
  "vault:VaultWritePreflight": () => vaultWritePreflightProvider(),
} as const satisfies Record<string, () => pulumi.dynamic.ResourceProvider>;

export type DynamicKey = keyof typeof PROVIDERS;
