// How a config value appears in a message: JSON, with every character that would change how the
// terminal shows the line escaped (so a bidi override cannot reorder the error that names it), and
// the user name and password of a URL masked (a message is never the place of a secret).

/**
 * Characters refused in every config string: C0 and C1 controls and DEL; U+2028/U+2029, which
 * break lines where JSON and YAML see none; and the bidirectional formatting characters (marks,
 * embeddings, overrides, isolates), which make a name display in another order than it is stored.
 */
// eslint-disable-next-line no-control-regex -- finding control characters is this pattern's job
export const UNSAFE_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_CHARACTERS = new RegExp(UNSAFE_CHARACTER.source, "g");
// eslint-disable-next-line no-control-regex -- finding control characters is this pattern's job
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const codePoint = (c: string): string => `U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`;

/** What an unsafe character is, for the message that refuses it: `U+202E (a bidirectional formatting character …)`. */
export function describeUnsafe(c: string): string {
  const kind =
    c === "\u2028" || c === "\u2029"
      ? "a line or paragraph separator"
      : CONTROL.test(c)
        ? "a control character"
        : "a bidirectional formatting character, which shows text in another order than it is stored";
  return `${codePoint(c)} (${kind})`;
}

/** Text with each unsafe character written as `\uXXXX`. */
export function escapeUnsafe(text: string): string {
  return text.replace(UNSAFE_CHARACTERS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** `https://user:pw@host/x` -> `https://***@host/x`: whatever stands before the host's `@`. */
export function maskCredentials(text: string): string {
  return text.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#]*@/, "$1***@");
}

export function show(value: unknown): string {
  if (value === undefined) return "(missing)";
  return escapeUnsafe(JSON.stringify(typeof value === "string" ? maskCredentials(value) : value));
}
