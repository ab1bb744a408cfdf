// Drives dynamic providers the way the Pulumi engine does — check, diff, then create / update /
// replace / delete in dependency order, dependents in parallel — without an engine, so provider
// behaviour can be asserted step by step against a real server. Every operation starts with an
// empty per-process cache, as each `pulumi` operation starts a fresh plugin process.
import type * as pulumi from "@pulumi/pulumi";
import { paperlessChildren } from "../../components/paperlessMailbox";
import type { Mailbox, MailserverSettings, PaperlessSettings } from "../../core/types";
import { mailAccountProvider, mailRuleProvider, tagProvider } from "../../providers/paperless/provider";
import { forgetProcessMemory } from "../../providers/processMemory";

export interface DesiredResource {
  /** Unique within the driver (the Pulumi resource name). */
  readonly name: string;
  readonly provider: pulumi.dynamic.ResourceProvider;
  readonly inputs: Record<string, unknown>;
  readonly dependsOn?: readonly string[];
}

export interface StateEntry {
  readonly name: string;
  readonly provider: pulumi.dynamic.ResourceProvider;
  readonly id: string;
  readonly outs: Record<string, unknown>;
  readonly dependsOn: readonly string[];
}

export type Step = { op: "create" | "update" | "replace" | "delete" | "same" | "refresh" | "gone"; name: string };

export interface Providers {
  readonly account: pulumi.dynamic.ResourceProvider;
  readonly rule: pulumi.dynamic.ResourceProvider;
  readonly tag: pulumi.dynamic.ResourceProvider;
}

export const defaultProviders: Providers = { account: mailAccountProvider, rule: mailRuleProvider, tag: tagProvider };

/** The resources the PaperlessMailbox component declares for one mailbox, as the driver's input. */
export function mailboxResources(
  name: string,
  mailbox: Mailbox,
  mailserver: MailserverSettings,
  paperless: PaperlessSettings,
  secrets: { password: string },
  providers: Providers = defaultProviders,
): DesiredResource[] {
  const c = paperlessChildren(name, mailbox, mailserver, paperless, secrets);
  const account = { name: c.account.name, provider: providers.account, inputs: { ...c.account.inputs } };
  const tags = c.tags.map((t) => ({ name: t.name, provider: providers.tag, inputs: { ...t.inputs } }));
  const deps = [account.name, ...tags.map((t) => t.name)];
  const rules = c.rules.map((r) => ({ name: r.name, provider: providers.rule, inputs: { ...r.inputs }, dependsOn: deps }));
  return [account, ...tags, ...rules];
}

/** Group names into waves: everything in a wave only depends on earlier waves. */
function waves<T extends { name: string; dependsOn?: readonly string[] }>(items: readonly T[]): T[][] {
  const level = new Map<string, number>();
  const byName = new Map(items.map((i) => [i.name, i]));
  const levelOf = (i: T): number => {
    const known = level.get(i.name);
    if (known !== undefined) return known;
    const deps = (i.dependsOn ?? []).map((d) => byName.get(d)).filter((d): d is T => d !== undefined);
    const l = deps.length ? 1 + Math.max(...deps.map(levelOf)) : 0;
    level.set(i.name, l);
    return l;
  };
  const out: T[][] = [];
  for (const i of items) (out[levelOf(i)] ??= []).push(i);
  return out.filter(Boolean);
}

export class ProviderDriver {
  readonly state = new Map<string, StateEntry>();

  /** check every resource; throws with every failure, like a preview does. Returns the planned steps without writing. */
  async preview(desired: readonly DesiredResource[]): Promise<Step[]> {
    forgetProcessMemory();
    await this.checkAll(desired);
    const steps: Step[] = [];
    for (const d of desired) {
      const old = this.state.get(d.name);
      if (!old) {
        steps.push({ op: "create", name: d.name });
        continue;
      }
      const diff = await d.provider.diff!(old.id, old.outs, d.inputs);
      steps.push({ op: diff.replaces?.length ? "replace" : diff.changes ? "update" : "same", name: d.name });
    }
    for (const name of this.removed(desired)) steps.push({ op: "delete", name });
    return steps;
  }

  async up(desired: readonly DesiredResource[]): Promise<Step[]> {
    forgetProcessMemory();
    const checked = await this.checkAll(desired);
    const steps: Step[] = [];
    for (const wave of waves(checked)) {
      await Promise.all(wave.map(async (d) => steps.push(await this.apply(d))));
    }
    const gone = new Set(this.removed(desired));
    await this.deleteInOrder(
      [...this.state.values()].filter((e) => gone.has(e.name)),
      steps,
    );
    return steps;
  }

  /** `pulumi refresh`: read every resource; a resource the server no longer has leaves the state. */
  async refresh(): Promise<Step[]> {
    forgetProcessMemory();
    return Promise.all(
      [...this.state.values()].map(async (e): Promise<Step> => {
        const r = await e.provider.read!(e.id, e.outs);
        if (!r.id) {
          this.state.delete(e.name);
          return { op: "gone", name: e.name };
        }
        this.state.set(e.name, { ...e, outs: r.props as Record<string, unknown> });
        return { op: "refresh", name: e.name };
      }),
    );
  }

  /** Delete everything: dependents first (as the engine does), or in the given order. */
  async destroy(order?: readonly string[]): Promise<Step[]> {
    forgetProcessMemory();
    const steps: Step[] = [];
    if (order) {
      for (const name of order) await this.deleteOne(this.state.get(name)!, steps);
    } else {
      await this.deleteInOrder([...this.state.values()], steps);
    }
    return steps;
  }

  private removed(desired: readonly DesiredResource[]): string[] {
    const wanted = new Set(desired.map((d) => d.name));
    return [...this.state.keys()].filter((n) => !wanted.has(n));
  }

  private async checkAll(desired: readonly DesiredResource[]): Promise<DesiredResource[]> {
    const results = await Promise.all(
      desired.map(async (d) => {
        const old = this.state.get(d.name);
        const r = await d.provider.check!(old?.outs ?? {}, d.inputs);
        return {
          d: { ...d, inputs: r.inputs as Record<string, unknown> },
          failures: (r.failures ?? []).map((f) => `${d.name}: ${f.reason}`),
        };
      }),
    );
    const failures = results.flatMap((r) => r.failures);
    if (failures.length) throw new Error(`preview failed:\n${failures.join("\n")}`);
    return results.map((r) => r.d);
  }

  private async apply(d: DesiredResource): Promise<Step> {
    const old = this.state.get(d.name);
    const dependsOn = d.dependsOn ?? [];
    if (old) {
      const diff = await d.provider.diff!(old.id, old.outs, d.inputs);
      if (diff.replaces?.length) {
        // Every replacement here is delete-before-replace (diff says so for `url`).
        await old.provider.delete!(old.id, old.outs);
        this.state.delete(d.name);
        const r = await d.provider.create(d.inputs);
        this.state.set(d.name, { name: d.name, provider: d.provider, id: r.id, outs: r.outs, dependsOn });
        return { op: "replace", name: d.name };
      }
      if (!diff.changes) return { op: "same", name: d.name };
      const r = await d.provider.update!(old.id, old.outs, d.inputs);
      this.state.set(d.name, { ...old, provider: d.provider, outs: r.outs, dependsOn });
      return { op: "update", name: d.name };
    }
    const r = await d.provider.create(d.inputs);
    this.state.set(d.name, { name: d.name, provider: d.provider, id: r.id, outs: r.outs, dependsOn });
    return { op: "create", name: d.name };
  }

  private async deleteInOrder(entries: readonly StateEntry[], steps: Step[]): Promise<void> {
    for (const wave of waves(entries).reverse()) await Promise.all(wave.map((e) => this.deleteOne(e, steps)));
  }

  private async deleteOne(e: StateEntry, steps: Step[]): Promise<void> {
    await e.provider.delete!(e.id, e.outs);
    this.state.delete(e.name);
    steps.push({ op: "delete", name: e.name });
  }
}
