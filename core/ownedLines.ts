// This program's slice of a shared line-oriented mailserver file (postfix-accounts.cf,
// postfix-virtual.cf): a block between marker comments. Every line outside the block is kept byte
// for byte; the only other change ever made is a missing final newline, which DMS needs anyway (it
// skips an unterminated last line).
//
// The markers name their owner without its address (`docs at example.org`): docker-mailserver
// does not skip comments everywhere. `_create_dovecot_alias_dummy_accounts` (v13.3.1-v15.1.0) looks
// an alias target up with an unanchored `grep "<address>" postfix-accounts.cf`, takes the first
// hit and panics (SIGTERM to PID 1) when its hash field is empty -- a comment naming the address
// was enough to crash-loop the mail server (tests/mailpath, on DMS's own scripts).

export const MARKER_PREFIX = "paperless-mail-ingest";
const OWNER = /^[A-Za-z0-9._@+:/-]+$/;

/** How a file's lines are keyed: `address|hash` or `alias target[,target…]`. */
export type LineFormat = "accounts" | "virtual";

/** The key a line defines (compared case-insensitively, as Dovecot and Postfix do for addresses). */
export function lineKey(format: LineFormat, line: string): string | undefined {
  const trimmed = line.trim();
  if (trimmed === "" || trimmed.startsWith("#")) return undefined;
  const key = format === "accounts" ? trimmed.split("|")[0]! : trimmed.split(/\s+/)[0]!;
  return key.toLowerCase();
}

export function markers(owner: string): { begin: string; end: string } {
  if (!OWNER.test(owner)) throw new Error(`block owner ${JSON.stringify(owner)} must match ${OWNER}`);
  // Injective (owners hold no spaces) and free of '@', so no marker matches an address.
  const name = owner.replaceAll("@", " at ");
  return { begin: `# BEGIN ${MARKER_PREFIX} ${name}`, end: `# END ${MARKER_PREFIX} ${name}` };
}

function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** Line indices of the owner's block, or undefined; a damaged block is an error, never a guess. */
function findBlock(lines: readonly string[], owner: string): { begin: number; end: number } | undefined {
  const { begin, end } = markers(owner);
  const begins = lines.flatMap((l, i) => (l === begin ? [i] : []));
  const ends = lines.flatMap((l, i) => (l === end ? [i] : []));
  if (begins.length === 0 && ends.length === 0) return undefined;
  if (begins.length !== 1 || ends.length !== 1 || ends[0]! < begins[0]!) {
    throw new Error(
      `the block of ${owner} is damaged (${JSON.stringify(begin)} at line(s) [${begins.map((i) => i + 1).join(",")}],` +
        ` ${JSON.stringify(end)} at line(s) [${ends.map((i) => i + 1).join(",")}]); repair it by hand`,
    );
  }
  return { begin: begins[0]!, end: ends[0]! };
}

function validateLines(owner: string, lines: readonly string[]): void {
  lines.forEach((line, i) => {
    if (
      line.trim() === "" ||
      /[\r\n]/.test(line) ||
      line.includes(`# BEGIN ${MARKER_PREFIX} `) ||
      line.includes(`# END ${MARKER_PREFIX} `)
    ) {
      throw new Error(`line ${i} of the block of ${owner} is empty, holds a line break or a block marker`);
    }
  });
}

/** The owner's lines in `text`, or undefined when it has no block. */
export function readOwnedLines(text: string, owner: string): string[] | undefined {
  const lines = splitLines(text);
  const block = findBlock(lines, owner);
  return block && lines.slice(block.begin + 1, block.end);
}

/** Insert, replace (in place) or, with no lines, remove the owner's block. Idempotent. */
export function writeOwnedLines(text: string, owner: string, owned: readonly string[]): string {
  validateLines(owner, owned);
  const { begin, end } = markers(owner);
  const lines = splitLines(text);
  const found = findBlock(lines, owner);
  if (!found && owned.length === 0) return text; // nothing of ours there: not even a newline to add
  const block = owned.length ? [begin, ...owned, end] : [];
  if (found) lines.splice(found.begin, found.end - found.begin + 1, ...block);
  else lines.push(...block);
  return lines.length ? lines.join("\n") + "\n" : "";
}

/** Lines outside the owner's block that define one of `keys`: two definitions of one address would fight. */
export function foreignDefinitions(
  text: string,
  owner: string,
  format: LineFormat,
  keys: readonly string[],
): { line: number; key: string }[] {
  const wanted = new Set(keys.map((k) => k.toLowerCase()));
  const lines = splitLines(text);
  const block = findBlock(lines, owner);
  return lines.flatMap((l, i) => {
    if (block && i >= block.begin && i <= block.end) return [];
    const key = lineKey(format, l);
    return key !== undefined && wanted.has(key) ? [{ line: i + 1, key }] : [];
  });
}

/** docker-mailserver's lookup pattern for an address: grep's basic regex, where `.` matches any character. */
function grepPattern(address: string): RegExp {
  return new RegExp(address.replace(/[+?(){}|\\^$*[\]]/g, "\\$&"));
}

/**
 * The line `_create_dovecot_alias_dummy_accounts` would take as the account of an alias target --
 * the first line of postfix-accounts.cf holding the address, comment or not -- when that line has
 * no hash: docker-mailserver then panics and stops (SIGTERM to PID 1). Undefined when it is safe.
 */
export function aliasLookupPanic(accountsText: string, address: string): { line: number; text: string } | undefined {
  const pattern = grepPattern(address);
  const lines = splitLines(accountsText);
  const hit = lines.findIndex((l) => pattern.test(l));
  if (hit < 0) return undefined;
  const hash = lines[hit]!.split("|")[1] ?? "";
  return hash === "" ? { line: hit + 1, text: lines[hit]! } : undefined;
}
