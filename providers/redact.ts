// Secrets out of any text a provider, the HTTP request or the doctor shows (errors, check failures,
// reports): the one place they are taken out.

/** The password of a URL's user info (`https://user:password@host`). */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*):[^\s/?#@]*@/gi;

/** Every occurrence of each secret replaced, and any password written into a URL; strings under 4
 * characters would blank out ordinary words. */
export function redact(text: string, secrets: readonly unknown[]): string {
  let out = text;
  for (const s of secrets) if (typeof s === "string" && s.length >= 4) out = out.split(s).join("[secret]");
  return out.replace(URL_PASSWORD, "$1:[secret]@");
}
