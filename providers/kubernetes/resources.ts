// The dynamic resources over the providers in configMapLines.ts, deploymentMounts.ts and kubernetesRights.ts.
import type * as pulumi from "@pulumi/pulumi";
import { DynamicResource } from "../dynamic/resource";
import type { ConfigMapLinesInputs } from "./configMapLines";
import type { DeploymentMountsInputs } from "./deploymentMounts";
import type { KubernetesRightsInputs } from "./kubernetesRights";

/** This program's lines in a shared ConfigMap key; removed again on delete. */
export class ConfigMapLines extends DynamicResource {
  declare readonly lines: pulumi.Output<string[]>;
  constructor(name: string, args: ConfigMapLinesInputs, opts?: pulumi.CustomResourceOptions) {
    super("kubernetes:ConfigMapLines", name, { ...args }, opts, ["pulumi-nodejs:dynamic/paperless-mail-ingest:ConfigMapLines"]);
  }
}

/** ConfigMap volumes mounted into a Deployment's container, as one field manager; given up again on delete. */
export class DeploymentMountsPatch extends DynamicResource {
  constructor(name: string, args: DeploymentMountsInputs, opts?: pulumi.CustomResourceOptions) {
    super("kubernetes:DeploymentMountsPatch", name, { ...args }, opts, [
      "pulumi-nodejs:dynamic/paperless-mail-ingest:DeploymentMountsPatch",
    ]);
  }
}

/** Checks at preview (and first thing at destroy) that the cluster identity holds the program's Kubernetes rights. */
export class KubernetesRights extends DynamicResource {
  constructor(name: string, args: KubernetesRightsInputs, opts?: pulumi.CustomResourceOptions) {
    super("kubernetes:KubernetesRights", name, { ...args }, opts, []);
  }
}
