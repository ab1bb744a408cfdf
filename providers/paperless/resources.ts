// The dynamic resources over the providers in provider.ts. Each class fixes its own secret
// outputs, so no caller can forget them. The server's id of an object is the resource's own `id`
// (a string); every declared output costs the SDK a set of promises per resource
// (docs/performance.md#declared-outputs), so it is not declared again as a number.
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

/** The account alone holds a secret (its password). */
function withSecrets(opts: pulumi.CustomResourceOptions | undefined): pulumi.CustomResourceOptions {
  return { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), ...SECRET_OUTPUTS] };
}

/** The output every paperless resource has: what destroy hands back if the object was adopted. */
const OUTPUTS = { adopted: undefined };

// `declare`, not a field: a class field would overwrite, after super(), the output Pulumi set.
export class PaperlessMailAccount extends DynamicResource {
  /** Set only for an object found by name at create: the values destroy puts back (providers/paperless/adoption.ts). */
  declare readonly adopted: pulumi.Output<Former | undefined>;
  constructor(name: string, args: MailAccountArgs, opts?: pulumi.CustomResourceOptions) {
    super("paperless:PaperlessMailAccount", name, { ...args, ...OUTPUTS }, withSecrets(opts), [`${FORMER}:MailAccount`]);
  }
}

export class PaperlessMailRule extends DynamicResource {
  /** Set only for an object found by name at create: the values destroy puts back (providers/paperless/adoption.ts). */
  declare readonly adopted: pulumi.Output<Former | undefined>;
  constructor(name: string, args: MailRuleArgs, opts?: pulumi.CustomResourceOptions) {
    super("paperless:PaperlessMailRule", name, { ...args, ...OUTPUTS }, opts, [`${FORMER}:MailRule`]);
  }
}

export class PaperlessTag extends DynamicResource {
  /** Set only for an object found by name at create: the values destroy puts back (providers/paperless/adoption.ts). */
  declare readonly adopted: pulumi.Output<Former | undefined>;
  constructor(name: string, args: TagArgs, opts?: pulumi.CustomResourceOptions) {
    super("paperless:PaperlessTag", name, { ...args, ...OUTPUTS }, opts, [`${FORMER}:Tag`]);
  }
}

/** Asks paperless to fetch the accounts' mail when created and whenever its inputs change (mailFetchProvider.ts). */
export class PaperlessMailFetch extends DynamicResource {
  constructor(name: string, args: MailFetchArgs, opts?: pulumi.CustomResourceOptions) {
    super("paperless:PaperlessMailFetch", name, { ...args }, opts, []);
  }
}
