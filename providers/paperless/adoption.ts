// An adopted object is one the stack found by name at create instead of making it (README
// "Rollback"): destroy keeps it and puts back the values this stack changed. Those former values
// are kept in the state only for adopted objects, in the server's own form (ids, null), so the
// restore is one PATCH whatever has been renamed since.

/** The server's values of the fields this stack changed on an adopted object, by field. */
export type Former = Readonly<Record<string, unknown>>;

/** Equal on the server: a list of ids is a set (tags), and a nullable text's null is its "". */
function sameOnServer(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    const [sa, sb] = [a.map(String).sort(), b.map(String).sort()];
    return sa.length === sb.length && sa.every((x, i) => x === sb[i]);
  }
  return (a ?? "") === (b ?? "");
}

/**
 * `former` plus the server's value of each field `body` is about to change that `former` does not
 * hold yet (the first change of a field is the one to undo). Secrets are never kept: the server
 * masks them on read.
 */
export function formerValues(
  current: Readonly<Record<string, unknown>>,
  body: Readonly<Record<string, unknown>>,
  secrets: readonly string[],
  former: Former = {},
): Former {
  const out: Record<string, unknown> = { ...former };
  for (const [field, value] of Object.entries(body)) {
    if (field in out || secrets.includes(field) || !(field in current)) continue;
    if (!sameOnServer(current[field], value)) out[field] = current[field];
  }
  return out;
}
