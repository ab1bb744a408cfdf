// Secrets out of any text a provider shows (errors, check failures), for every dynamic provider.

/** Every occurrence of each secret replaced; strings under 4 characters would blank out ordinary words. */
export function redact(text: string, secrets: readonly unknown[]): string {
  let out = text;
  for (const s of secrets) if (typeof s === "string" && s.length >= 4) out = out.split(s).join("[secret]");
  return out;
}
