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
//
// A `blank` field whose value is "" is left out of `spec` and put back by unpack: seven of a
// rule's optional filters and references are "" in every rule the program declares, and every
// byte is paid N times per step (a first up writes the state once per resource). Stacks whose
// spec still holds them unpack to the same props.
import type * as pulumi from "@pulumi/pulumi";
import { RULE_OPTIONAL_TEXT } from "../paperless/provider";

export const SPEC = "spec";

export interface Packing {
  /**
   * Properties kept outside `spec`: outputs the program reads, and secrets (a secret inside would
   * make the whole spec secret, and every diff of it unreadable).
   */
  readonly kept: readonly string[];
  /** Text fields left out of `spec` when "" (the provider still sees them, as ""). */
  readonly blank: readonly string[];
}

/** The packed kinds. */
export const PACKED_KINDS: Readonly<Record<string, Packing>> = {
  "paperless:PaperlessMailRule": { kept: ["paperlessId", "adopted"], blank: RULE_OPTIONAL_TEXT },
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

/** The text of `spec` for the packed fields: blank ones left out. */
export function specText(fields: Props, packing: Packing): string {
  return stableJson(Object.fromEntries(Object.entries(fields).filter(([k, v]) => !(v === "" && packing.blank.includes(k)))));
}

/** `props` with every property except `kept` (and the plugin's `__provider`) folded into `spec`. */
export function pack(props: Props, packing: Packing): Props {
  const spec: Props = {};
  const out: Props = {};
  for (const [k, v] of Object.entries(props)) {
    if (k === "__provider" || packing.kept.includes(k)) out[k] = v;
    else spec[k] = v;
  }
  return { ...out, [SPEC]: specText(spec, packing) };
}

/** The props as the provider declared them: `spec` unfolded beside the kept ones, its blank fields back as "". */
export function unpack(props: Props | undefined, packing: Packing): Props {
  if (!props) return {};
  const { [SPEC]: spec, ...rest } = props;
  if (typeof spec !== "string") return rest;
  return { ...Object.fromEntries(packing.blank.map((k) => [k, ""])), ...(JSON.parse(spec) as Props), ...rest };
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
export function packedProvider(p: pulumi.dynamic.ResourceProvider, packing: Packing): pulumi.dynamic.ResourceProvider {
  const kept = packing.kept;
  const wrapped: pulumi.dynamic.ResourceProvider = {
    async create(inputs: Props) {
      const result = await p.create(unpack(inputs, packing));
      const outs = result.outs as Props | undefined;
      return { ...result, outs: outs === undefined ? outs : pack(outs, packing) };
    },
  };
  if (p.configure) wrapped.configure = (req) => p.configure!(req);
  if (p.check) {
    wrapped.check = async (olds: Props, news: Props) => {
      // Some input unknown at preview: nothing can be checked until it is known (at apply).
      if (news[SPEC] === UNKNOWN) return { inputs: news, failures: [] };
      const result = await p.check!(unpack(olds, packing), unpack(news, packing));
      return {
        ...result,
        inputs: result.inputs === undefined ? news : pack(result.inputs as Props, packing),
        ...(result.failures ? { failures: result.failures.map((f) => shownFailure(f, kept)) } : {}),
      };
    };
  }
  if (p.diff) {
    wrapped.diff = async (id: string, olds: Props, news: Props) => {
      if (news[SPEC] === UNKNOWN) return { changes: true };
      const result = await p.diff!(id, unpack(olds, packing), unpack(news, packing));
      const replaces = stateNames(result.replaces, kept);
      const stables = stateNames(result.stables, kept);
      return { ...result, ...(replaces ? { replaces } : {}), ...(stables ? { stables } : {}) };
    };
  }
  if (p.read) {
    wrapped.read = async (id: string, props: Props) => {
      const result = await p.read!(id, unpack(props, packing));
      // A resource that is gone reads as no props at all: keep it so.
      const { props: read, inputs } = result as { props?: Props; inputs?: Props };
      const found = read !== undefined && Object.keys(read).length > 0 ? read : undefined;
      return {
        ...result,
        ...(found ? { props: pack(found, packing) } : {}),
        ...(inputs !== undefined ? { inputs: pack(inputs, packing) } : {}),
      };
    };
  }
  if (p.update) {
    wrapped.update = async (id: string, olds: Props, news: Props) => {
      const result = await p.update!(id, unpack(olds, packing), unpack(news, packing));
      const outs = result.outs as Props | undefined;
      return { ...result, ...(outs !== undefined ? { outs: pack(outs, packing) } : {}) };
    };
  }
  if (p.delete) wrapped.delete = (id: string, props: Props) => p.delete!(id, unpack(props, packing));
  return wrapped;
}
