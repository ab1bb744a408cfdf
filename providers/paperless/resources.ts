// The dynamic resources over the providers in provider.ts. Each class fixes its own secret
// outputs, so no caller can forget them.
import * as pulumi from "@pulumi/pulumi";
import type { MailAccountPlan, MailRulePlan } from "../../core/paperlessPlan";
import type { MailFetchInputs } from "./mailFetchProvider";
import { DynamicResource } from "../dynamic/resource";
import type { Former } from "./adoption";
import { SECRET_OUTPUTS } from "./provider";

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

interface ConnectionArgs {
  url: pulumi.Input<string>;
}
export type MailAccountArgs = ConnectionArgs & Inputs<MailAccountPlan> & { password: pulumi.Input<string> };
export type MailRuleArgs = ConnectionArgs & Inputs<MailRulePlan>;
export type TagArgs = ConnectionArgs & { name: pulumi.Input<string> };
export type MailFetchArgs = Inputs<MailFetchInputs>;

/** Their type tokens' module before the one scheme of providers/dynamic/resource.ts. */
const FORMER = "pulumi-nodejs:dynamic/paperless";

function withSecrets(opts: pulumi.CustomResourceOptions | undefined): pulumi.CustomResourceOptions {
  return { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), ...SECRET_OUTPUTS] };
}

/** Outputs every paperless resource has: the server's id, and what destroy hands back if the object was adopted. */
const OUTPUTS = { paperlessId: undefined, adopted: undefined };

// `declare`, not a field: a class field would overwrite, after super(), the output Pulumi set.
export class PaperlessMailAccount extends DynamicResource {
  declare readonly paperlessId: pulumi.Output<number>;
  /** Set only for an object found by name at create: the values destroy puts back (providers/paperless/adoption.ts). */
  declare readonly adopted: pulumi.Output<Former | undefined>;
  constructor(name: string, args: MailAccountArgs, opts?: pulumi.CustomResourceOptions) {
    super("paperless:PaperlessMailAccount", name, { ...args, ...OUTPUTS }, withSecrets(opts), [`${FORMER}:MailAccount`]);
  }
}

export class PaperlessMailRule extends DynamicResource {
  declare readonly paperlessId: pulumi.Output<number>;
  /** Set only for an object found by name at create: the values destroy puts back (providers/paperless/adoption.ts). */
  declare readonly adopted: pulumi.Output<Former | undefined>;
  constructor(name: string, args: MailRuleArgs, opts?: pulumi.CustomResourceOptions) {
    super("paperless:PaperlessMailRule", name, { ...args, ...OUTPUTS }, withSecrets(opts), [`${FORMER}:MailRule`]);
  }
}

export class PaperlessTag extends DynamicResource {
  declare readonly paperlessId: pulumi.Output<number>;
  /** Set only for an object found by name at create: the values destroy puts back (providers/paperless/adoption.ts). */
  declare readonly adopted: pulumi.Output<Former | undefined>;
  constructor(name: string, args: TagArgs, opts?: pulumi.CustomResourceOptions) {
    super("paperless:PaperlessTag", name, { ...args, ...OUTPUTS }, withSecrets(opts), [`${FORMER}:Tag`]);
  }
}

/** Asks paperless to fetch the accounts' mail when created and whenever its inputs change (mailFetchProvider.ts). */
export class PaperlessMailFetch extends DynamicResource {
  constructor(name: string, args: MailFetchArgs, opts?: pulumi.CustomResourceOptions) {
    super("paperless:PaperlessMailFetch", name, { ...args }, opts, []);
  }
}
