// Packed resources: the declared inputs of a kind that exists once per sender are kept in the
// state as ONE JSON string property, `spec`, instead of one property each.
//
// Why: the engine serializes the whole state after every step (preview included), at a cost per
// property value, not per byte. Measured with the engine over 500 dynamic resources (engine CPU,
// preview): one JSON string of 19 fields costs what an empty resource does, 19 separate fields
// cost 1.7x that, plus a secret among them 2.7x. A mail rule has about 20 fields, in its inputs
// and again in its outputs (and a propertyDependencies entry each). Pulumi's diff display decodes
// JSON strings, so `pulumi preview --diff` still shows which field changed.
//
// The provider never sees this: packedProvider() unpacks before and packs after every method.
// Only kinds whose inputs are all known at preview may be packed (one unknown field makes the
// whole spec unknown, and check can then validate nothing).
import type * as pulumi from "@pulumi/pulumi";

export const SPEC = "spec";

/**
 * The packed kinds and the properties each keeps outside `spec`: outputs the program reads, and
 * secrets (a secret inside would make the whole spec secret, and every diff of it unreadable).
 */
export const PACKED_KINDS: Readonly<Record<string, readonly string[]>> = {
  "paperless:PaperlessMailRule": ["paperlessId", "adopted"],
};

/** Pulumi's placeholder for a value not known until apply, as the plugin receives it. */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

type Props = Record<string, unknown>;

/** JSON with object keys sorted at every level: the same object always gives the same text (no drift from key order). */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Props).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** `props` with every property except `kept` (and the plugin's `__provider`) folded into `spec`. */
export function pack(props: Props, kept: readonly string[]): Props {
  const spec: Props = {};
  const out: Props = {};
  for (const [k, v] of Object.entries(props)) {
    if (k === "__provider" || kept.includes(k)) out[k] = v;
    else spec[k] = v;
  }
  return { ...out, [SPEC]: stableJson(spec) };
}

/** The props as the provider declared them: `spec` unfolded beside the kept ones. */
export function unpack(props: Props | undefined): Props {
  if (!props) return {};
  const { [SPEC]: spec, ...rest } = props;
  return typeof spec === "string" ? { ...(JSON.parse(spec) as Props), ...rest } : rest;
}

/**
 * A check failure as the engine can show it. It prints a failure's property with that property's
 * value among the inputs, where a packed field has none (`property owner value {<nil>}`), and `spec`
 * would print the whole JSON: so a packed field's failure is one of the resource, its reason
 * naming the field.
 */
function shownFailure(f: pulumi.dynamic.CheckFailure, kept: readonly string[]): pulumi.dynamic.CheckFailure {
  if (f.property === "" || kept.includes(f.property)) return f;
  const named = f.reason.startsWith(`${f.property} `) || f.reason.startsWith(`${f.property}:`);
  return { property: "", reason: named ? f.reason : `${f.property}: ${f.reason}` };
}

/** Property names the engine knows (for replaces/stables): a packed field is a change of `spec`. */
function stateNames(names: readonly string[] | undefined, kept: readonly string[]): string[] | undefined {
  return names && [...new Set(names.map((n) => (kept.includes(n) ? n : SPEC)))];
}

/** The provider behind a packed kind: each method sees and returns unpacked props, as if nothing were packed. */
export function packedProvider(p: pulumi.dynamic.ResourceProvider, kept: readonly string[]): pulumi.dynamic.ResourceProvider {
  const wrapped: pulumi.dynamic.ResourceProvider = {
    async create(inputs: Props) {
      const result = await p.create(unpack(inputs));
      const outs = result.outs as Props | undefined;
      return { ...result, outs: outs === undefined ? outs : pack(outs, kept) };
    },
  };
  if (p.configure) wrapped.configure = (req) => p.configure!(req);
  if (p.check) {
    wrapped.check = async (olds: Props, news: Props) => {
      // Some input unknown at preview: nothing can be checked until it is known (at apply).
      if (news[SPEC] === UNKNOWN) return { inputs: news, failures: [] };
      const result = await p.check!(unpack(olds), unpack(news));
      return {
        ...result,
        inputs: result.inputs === undefined ? news : pack(result.inputs as Props, kept),
        ...(result.failures ? { failures: result.failures.map((f) => shownFailure(f, kept)) } : {}),
      };
    };
  }
  if (p.diff) {
    wrapped.diff = async (id: string, olds: Props, news: Props) => {
      if (news[SPEC] === UNKNOWN) return { changes: true };
      const result = await p.diff!(id, unpack(olds), unpack(news));
      const replaces = stateNames(result.replaces, kept);
      const stables = stateNames(result.stables, kept);
      return { ...result, ...(replaces ? { replaces } : {}), ...(stables ? { stables } : {}) };
    };
  }
  if (p.read) {
    wrapped.read = async (id: string, props: Props) => {
      const result = await p.read!(id, unpack(props));
      // A resource that is gone reads as no props at all: keep it so.
      const { props: read, inputs } = result as { props?: Props; inputs?: Props };
      const found = read !== undefined && Object.keys(read).length > 0 ? read : undefined;
      return {
        ...result,
        ...(found ? { props: pack(found, kept) } : {}),
        ...(inputs !== undefined ? { inputs: pack(inputs, kept) } : {}),
      };
    };
  }
  if (p.update) {
    wrapped.update = async (id: string, olds: Props, news: Props) => {
      const result = await p.update!(id, unpack(olds), unpack(news));
      const outs = result.outs as Props | undefined;
      return { ...result, ...(outs !== undefined ? { outs: pack(outs, kept) } : {}) };
    };
  }
  if (p.delete) wrapped.delete = (id: string, props: Props) => p.delete!(id, unpack(props));
  return wrapped;
}
