// The base class of every dynamic resource of this program, and what it puts in the state.
//
// pulumi.dynamic.Resource serializes the provider object by value, closure and every module it
// reaches included, into each resource's inputs and outputs: 33–39 K characters per resource,
// rewritten by the engine after every step (docs/performance.md#the-shim). Here the state holds a
// shim of about 100 bytes instead: the engine's plugin (pulumi-resource-pulumi-nodejs) evaluates
// it as a module and calls its handler(), which loads providers/dynamic/load.js from the plugin's
// working directory (the project: the directory of Pulumi.yaml) and returns the provider
// registered under the resource's key. The plugin then calls that provider object's methods
// itself (configure, check, diff, create, read, update, delete), so every one the provider has
// is used, and only those.
import * as pulumi from "@pulumi/pulumi";
import { PACKED_KINDS, SPEC, specText, type Packing } from "./packed";
import type { DynamicKey } from "./registry";

/** `pulumi-nodejs:dynamic/<family>:<Class>` (the plugin serves the package `pulumi-nodejs`; a stack is one project's). */
export function dynamicType(key: DynamicKey): string {
  return `pulumi-nodejs:dynamic/${key}`;
}

const LOADER = "providers/dynamic/load.js";

/**
 * The provider text the state keeps: load.js from the plugin's working directory, which the engine
 * sets to the project's (the directory of Pulumi.yaml). Every resource keeps it twice (inputs and
 * outputs) and the engine rewrites the whole state after every step, so every byte here is paid
 * N times per step: no message of its own (Node's names the file it looked for, and load.js says
 * what to do about everything after that).
 */
export function shimText(key: DynamicKey): string {
  return `exports.handler=()=>require(process.cwd()+${JSON.stringify(`/${LOADER}`)}).provider(${JSON.stringify(key)})`;
}

/** Options plus aliases for the type tokens a resource had before, so a rename never orphans a state (aliases are not stored). */
export function withFormerTypes<O extends pulumi.ResourceOptions>(opts: O | undefined, formerTypes: readonly string[]): O {
  return formerTypes.length
    ? ({ ...opts, aliases: [...(opts?.aliases ?? []), ...formerTypes.map((type) => ({ type }))] } as O)
    : ({ ...opts } as O);
}

/** No Output or Promise anywhere inside: the value is known now. */
function isPlain(v: unknown): boolean {
  if (pulumi.Output.isInstance(v) || v instanceof Promise) return false;
  if (v === null || typeof v !== "object") return true;
  return Object.values(v).every(isPlain);
}

/**
 * A packed kind's props (packed.ts): the kept ones as they are, every other one in the JSON string
 * `spec`, as a plain string when every field is known at construction (an Output costs the SDK
 * promises of its own per resource, docs/performance.md#declared-outputs).
 */
function packedProps(props: pulumi.Inputs, packing: Packing): pulumi.Inputs {
  const part = (keep: boolean) => Object.fromEntries(Object.entries(props).filter(([k]) => packing.kept.includes(k) === keep));
  const fields = part(false);
  const spec = (f: Record<string, unknown>) => specText(f, packing);
  return { ...part(true), [SPEC]: isPlain(fields) ? spec(fields) : pulumi.output(fields).apply(spec) };
}

export abstract class DynamicResource extends pulumi.CustomResource {
  protected constructor(
    key: DynamicKey,
    name: string,
    props: pulumi.Inputs,
    opts: pulumi.CustomResourceOptions | undefined,
    formerTypes: readonly string[],
  ) {
    const packing = PACKED_KINDS[key];
    // The SDK records a stack for every promise it makes here, used only under
    // PULUMI_DEBUG_PROMISE_LEAKS: most of the registration's cost (docs/performance.md#promise-stacks).
    const limit = Error.stackTraceLimit;
    if (!process.env.PULUMI_DEBUG_PROMISE_LEAKS) Error.stackTraceLimit = 0;
    try {
      super(
        dynamicType(key),
        name,
        { ...(packing ? packedProps(props, packing) : props), __provider: shimText(key) },
        withFormerTypes(opts, formerTypes),
      );
    } finally {
      Error.stackTraceLimit = limit;
    }
  }
}
