// The program's one error style (docs/architecture.md#errors): an Error whose string `code` says
// what went wrong, with that kind's typed fields. It is recognised by the code, never by
// `instanceof`: the providers are loaded twice (from build/ by the engine's plugin, from the
// sources by jest and the scripts), and an error made by one copy is no instance of the other's class.

/** An Error of kind `C` (its `code`) carrying the fields `F`. */
export type CodedError<C extends string, F extends object = object> = Error & Readonly<F> & { readonly code: C };

/** `CONFIG_ERROR` → `ConfigError`: the name stack traces and `String(e)` print. */
const nameOf = (code: string): string =>
  code
    .toLowerCase()
    .split("_")
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join("");

/** An Error with `message`, the kind `code` and its `fields`. */
export function codedError<C extends string, F extends object>(code: C, message: string, fields: F): CodedError<C, F> {
  const e = new Error(message);
  e.name = nameOf(code);
  return Object.assign(e, fields, { code });
}

/** Whether `e` is an error of kind `code`, whichever copy of a module made it. */
export function hasCode<C extends string>(e: unknown, code: C): e is CodedError<C> {
  return typeof e === "object" && e !== null && (e as { code?: unknown }).code === code;
}
