// The dynamic resources over the providers in provider.ts. Each class fixes its own secret
// outputs, so no caller can forget them.
import * as pulumi from "@pulumi/pulumi";
import type { MailAccountPlan, MailRulePlan } from "../../core/paperlessPlan";
import { mailAccountProvider, mailRuleProvider, SECRET_OUTPUTS, tagProvider } from "./provider";

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

interface ConnectionArgs {
  url: pulumi.Input<string>;
  /** paperless API token (secret). */
  token: pulumi.Input<string>;
}
export type MailAccountArgs = ConnectionArgs & Inputs<MailAccountPlan> & { password: pulumi.Input<string> };
export type MailRuleArgs = ConnectionArgs & Inputs<MailRulePlan>;
export type TagArgs = ConnectionArgs & { name: pulumi.Input<string> };

/** Dynamic resource type tokens: `pulumi-nodejs:dynamic/paperless:<Type>`. */
const MODULE = "paperless";

function withSecrets(opts: pulumi.CustomResourceOptions | undefined): pulumi.CustomResourceOptions {
  return { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), ...SECRET_OUTPUTS] };
}

// `declare`, not a field: a class field would overwrite, after super(), the output Pulumi set.
export class PaperlessMailAccount extends pulumi.dynamic.Resource {
  declare readonly paperlessId: pulumi.Output<number>;
  constructor(name: string, args: MailAccountArgs, opts?: pulumi.CustomResourceOptions) {
    super(mailAccountProvider, name, { ...args, paperlessId: undefined }, withSecrets(opts), MODULE, "MailAccount");
  }
}

export class PaperlessMailRule extends pulumi.dynamic.Resource {
  declare readonly paperlessId: pulumi.Output<number>;
  constructor(name: string, args: MailRuleArgs, opts?: pulumi.CustomResourceOptions) {
    super(mailRuleProvider, name, { ...args, paperlessId: undefined }, withSecrets(opts), MODULE, "MailRule");
  }
}

export class PaperlessTag extends pulumi.dynamic.Resource {
  declare readonly paperlessId: pulumi.Output<number>;
  constructor(name: string, args: TagArgs, opts?: pulumi.CustomResourceOptions) {
    super(tagProvider, name, { ...args, paperlessId: undefined }, withSecrets(opts), MODULE, "Tag");
  }
}
