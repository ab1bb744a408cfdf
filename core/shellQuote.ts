// Quoting for POSIX sh: every value the program puts into a command line (kubectl arguments, the
// docker-mailserver scripts) goes through it.

/** Single-quote for POSIX sh. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
