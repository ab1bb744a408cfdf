// A resource's fields as its provider sees them: a packed kind's `spec` unfolded, its blank
// fields back as "" (providers/dynamic/packed.ts); any other kind's props as they are.
import { PACKED_KINDS, type Packing, unpack } from "../../providers/dynamic/packed";
import { dynamicType } from "../../providers/dynamic/resource";
import type { DynamicKey } from "../../providers/dynamic/registry";

const NOT_PACKED: Packing = { kept: [], blank: [] };

/** `type` is the resource's type token (dynamicType of its key). */
export function fieldsOf(type: string, props: Record<string, unknown>): Record<string, unknown> {
  const key = Object.keys(PACKED_KINDS).find((k) => dynamicType(k as DynamicKey) === type);
  return unpack(props, key ? PACKED_KINDS[key]! : NOT_PACKED);
}
