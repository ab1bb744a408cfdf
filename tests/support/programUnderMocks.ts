// Runs index.ts under Pulumi mocks, as the CLI would run it, and records every resource:
// its type, name, parent and (secrets unwrapped) inputs. Generated values (passwords, salts) come
// from the real RandomText provider and persist in `state` across runs, as in a real stack's state.
import * as pulumi from "@pulumi/pulumi";
import { fieldsOf } from "./packedFields";
import { mockedState, secretInputs, unwrapSecrets, valueOf } from "./mockValues";

export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  /** `type::name` of the parent, if any. */
  parent?: string;
  /** `type::name` of each explicit dependsOn. */
  dependsOn?: string[];
  /** `type::name` of the explicit provider, if any. */
  provider?: string;
  /** Inputs as the provider would get them, secrets unwrapped (undefined for components). */
  inputs?: Record<string, unknown>;
  /** Input properties that arrived as secrets. */
  secretInputs?: string[];
}

export const keyOf = (r: { type: string; name: string }): string => `${r.type}::${r.name}`;

/** A stack config as `pulumi config` holds it: `paperless-mail-ingest:key` -> value. */
export type StackConfigValues = Record<string, unknown>;

export async function runProgram(config: StackConfigValues, opts: { secretKeys?: string[]; state?: Map<string, string> } = {}) {
  const state = opts.state ?? new Map<string, string>();
  const resources = new Map<string, RecordedResource>();
  const byObject = new Map<pulumi.Resource, RecordedResource>();
  await pulumi.runtime.setMocks(
    {
      newResource: async (args) => {
        const r = resources.get(keyOf(args));
        if (r) {
          r.inputs = fieldsOf(args.type, unwrapSecrets(args.inputs) as Record<string, unknown>);
          r.secretInputs = secretInputs(args.inputs as object);
        }
        return mockedState(args, state);
      },
      call: async () => ({}),
    },
    "paperless-mail-ingest",
    "prod",
    false,
  );
  pulumi.runtime.setAllConfig(
    Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])),
    opts.secretKeys ?? [],
  );
  let stackExports: any;
  // As the Pulumi CLI does: a root stack resource first, so a stack transformation sees every resource.
  await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation((a) => {
      const r: RecordedResource = { type: a.type, name: a.name };
      const parent = a.opts.parent && byObject.get(a.opts.parent);
      if (parent) r.parent = keyOf(parent);
      const deps = ([] as unknown[]).concat(a.opts.dependsOn ?? []).map((d) => byObject.get(d as pulumi.Resource));
      if (deps.length) r.dependsOn = deps.map((d) => (d ? keyOf(d) : "(unrecorded)"));
      const provider = (a.opts as pulumi.CustomResourceOptions).provider;
      if (provider) r.provider = keyOf(byObject.get(provider) ?? { type: "(unrecorded)", name: "" });
      byObject.set(a.resource, r);
      resources.set(keyOf(r), r);
      return undefined;
    });
    jest.isolateModules(() => {
      stackExports = require("../../index");
    });
    return undefined;
  });
  // Let the last registrations (and their inputs) reach the mocks before anyone swaps them.
  await settle(stackExports);
  await pulumi.runtime.awaitStackRegistrations();
  // Drain the RPC queue (late registerOutputs), so no call of this run reaches the next run's mocks.
  await pulumi.runtime.disconnect();
  return { resources, exports: stackExports, state };
}

/** Resolve every output in the stack exports, so all resources have registered. */
async function settle(value: unknown): Promise<void> {
  if (pulumi.Output.isInstance(value)) {
    await new Promise<void>((resolve) => value.apply(() => resolve()));
  } else if (value !== null && typeof value === "object") {
    for (const v of Object.values(value)) await settle(v);
  }
}

export type Change = { op: "create" | "update" | "delete"; key: string };

/** What `pulumi up` would do going from one run to the next: resources created, deleted, or with changed inputs. */
export function planChanges(before: Map<string, RecordedResource>, after: Map<string, RecordedResource>): Change[] {
  const changes: Change[] = [];
  for (const [key, r] of after) {
    const old = before.get(key);
    if (!old) changes.push({ op: "create", key });
    else if (r.inputs !== undefined && JSON.stringify(old.inputs) !== JSON.stringify(r.inputs)) changes.push({ op: "update", key });
  }
  for (const key of before.keys()) if (!after.has(key)) changes.push({ op: "delete", key });
  return changes;
}

export { valueOf };
