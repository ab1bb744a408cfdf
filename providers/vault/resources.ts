// The dynamic resource over the provider in vaultPreflight.ts.
import * as pulumi from "@pulumi/pulumi";
import { PROJECT } from "../../core/types";
import { DynamicResource } from "../dynamic/resource";
import type { VaultWritePreflightInputs } from "./vaultPreflight";

export class VaultWritePreflight extends DynamicResource {
  constructor(name: string, args: VaultWritePreflightInputs, opts?: pulumi.CustomResourceOptions) {
    super(
      "vault:VaultWritePreflight",
      name,
      { ...args, token: pulumi.secret(args.token) },
      { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "token"] },
      [`pulumi-nodejs:dynamic/${PROJECT}:VaultWritePreflight`],
    );
  }
}
