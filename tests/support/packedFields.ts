// A resource's fields as its provider sees them: a packed kind's `spec` unfolded, its blank
// fields back as "" (providers/dynamic/packed.ts); any other kind's props as they are.
import { PACKED_KINDS, unpack } from "../../providers/dynamic/packed";

const NOT_PACKED = { kept: [], blank: [] };

/** `type` is the resource's type token (`pulumi-nodejs:dynamic/<key>`). */
export function fieldsOf(type: string, props: Record<string, unknown>): Record<string, unknown> {
  return unpack(props, PACKED_KINDS[type.replace(/^pulumi-nodejs:dynamic\//, "")] ?? NOT_PACKED);
}
