// The paperless half of one ingest mailbox: its mail account, the tags its rules assign, and one
// mail rule per sender, all built from core/paperlessPlan.ts.
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { paperlessPlan } from "../core/paperlessPlan";
import type { Mailbox, MailserverSettings, PaperlessSettings } from "../core/types";
import type { AccountInputs, RuleInputs, TagInputs } from "../providers/paperless/provider";
import { PaperlessMailAccount, PaperlessMailRule, PaperlessTag } from "../providers/paperless/resources";

export interface PaperlessMailboxArgs {
  mailbox: Mailbox;
  mailserver: MailserverSettings;
  paperless: PaperlessSettings;
  password: pulumi.Input<string>; // secret mailbox password (from the Vault component)
  /** The mail accounts of every mailbox of the stack (default: this one's): a sender's rule may move between them. */
  stackAccounts?: readonly string[];
}

type WithSecrets<T, S> = { [K in keyof T]: K extends "password" ? S : T[K] };

/** The children of one mailbox: Pulumi name suffix and inputs of each (secrets of any type S). */
export interface PaperlessChildren<S> {
  readonly account: { readonly name: string; readonly inputs: WithSecrets<AccountInputs, S> };
  readonly tags: readonly { readonly name: string; readonly inputs: WithSecrets<TagInputs, S> }[];
  /** One per sender, named after the sender's address: adding a sender is exactly one create. */
  readonly rules: readonly { readonly name: string; readonly inputs: WithSecrets<RuleInputs, S> }[];
  /** Changes iff some rule's declared state changes. */
  readonly rulesFingerprint: string;
}

/** Children names and inputs, shared by the component and the test driver so both build the same thing. */
export function paperlessChildren<S>(
  name: string,
  mailbox: Mailbox,
  mailserver: MailserverSettings,
  paperless: PaperlessSettings,
  secrets: { password: S },
  stackAccounts: readonly string[] = [mailbox.accountName],
): PaperlessChildren<S> {
  const plan = paperlessPlan(mailbox, mailserver);
  const url = paperless.url;
  return {
    account: { name: `${name}-account`, inputs: { url, ...plan.account, password: secrets.password } },
    tags: plan.tags.map((tag) => ({ name: `${name}-tag-${tag}`, inputs: { url, name: tag } })),
    rules: plan.rules.map((rule, i) => ({ name: `${name}-rule-${mailbox.senders[i]!.address}`, inputs: { url, ...rule, stackAccounts } })),
    rulesFingerprint: createHash("sha256").update(JSON.stringify(plan.rules)).digest("hex"),
  };
}

export class PaperlessMailbox extends pulumi.ComponentResource {
  readonly accountId: pulumi.Output<number>;
  /** sender address -> paperless rule id (rule names repeat across owners; addresses do not) */
  readonly ruleIds: pulumi.Output<Record<string, number>>;
  readonly rulesFingerprint: pulumi.Output<string>;
  /** The objects a destroy leaves in paperless because the stack adopted them (README "Rollback"). */
  readonly keptAtDestroy: pulumi.Output<string[]>;

  constructor(name: string, args: PaperlessMailboxArgs, opts?: pulumi.ComponentResourceOptions) {
    super("paperless-mail-ingest:paperless:PaperlessMailbox", name, {}, opts);
    const children = paperlessChildren(
      name,
      args.mailbox,
      args.mailserver,
      args.paperless,
      { password: pulumi.secret(args.password) },
      args.stackAccounts,
    );

    const account = new PaperlessMailAccount(children.account.name, children.account.inputs, { parent: this });
    const tags = children.tags.map((t) => new PaperlessTag(t.name, t.inputs, { parent: this }));
    // Names, not ids, travel in the rule's inputs; dependsOn makes the account and tags exist first.
    const rules = children.rules.map((r) => ({
      sender: r.inputs.filter_from,
      resource: new PaperlessMailRule(r.name, r.inputs, { parent: this, dependsOn: [account, ...tags] }),
    }));

    // A paperless resource's id is the server's (providers/paperless/resources.ts).
    this.accountId = account.id.apply(Number);
    this.ruleIds = pulumi
      .all(rules.map((r) => r.resource.id))
      .apply((ids) => Object.fromEntries(rules.map((r, i) => [r.sender, Number(ids[i])])));
    this.rulesFingerprint = pulumi.output(children.rulesFingerprint);
    // Single quotes: the CLI shows an output's strings quoted, and escaped double quotes are hard to read.
    const kept = [
      { what: `mail account '${children.account.inputs.name}'`, resource: account },
      ...children.tags.map((t, i) => ({ what: `tag '${t.inputs.name}'`, resource: tags[i]! })),
      ...children.rules.map((r, i) => ({ what: `mail rule '${r.inputs.name}'`, resource: rules[i]!.resource })),
    ];
    this.keptAtDestroy = pulumi
      .all(kept.map((k) => k.resource.adopted))
      .apply((adopted) => kept.filter((_, i) => adopted[i] !== undefined).map((k) => `${k.what} (adopted)`));
    this.registerOutputs({
      accountId: this.accountId,
      ruleIds: this.ruleIds,
      rulesFingerprint: this.rulesFingerprint,
      keptAtDestroy: this.keptAtDestroy,
    });
  }
}
