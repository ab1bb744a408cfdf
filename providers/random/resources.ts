// The dynamic resource over the provider in randomText.ts.
import * as pulumi from "@pulumi/pulumi";
import { DynamicResource } from "../dynamic/resource";

export interface RandomTextArgs {
  alphabet: string;
  length: number;
  /** Keep `value` encrypted in state and out of logs. */
  secret: boolean;
}

export class RandomText extends DynamicResource {
  declare readonly value: pulumi.Output<string>;
  constructor(name: string, args: RandomTextArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      "random:RandomText",
      name,
      { alphabet: args.alphabet, length: args.length, value: undefined },
      {
        ...opts,
        ...(args.secret ? { additionalSecretOutputs: ["value", ...(opts?.additionalSecretOutputs ?? [])] } : {}),
      },
      ["pulumi-nodejs:dynamic/paperless-mail-ingest:RandomText"],
    );
  }
}
