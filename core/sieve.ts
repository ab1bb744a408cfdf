// The Dovecot sieve allowlist of one ingest mailbox, rendered from templates/dovecot.sieve.mustache.
import { readFileSync } from "fs";
import { join } from "path";
import Mustache from "mustache";
import { atName } from "./names";
import type { Mailbox } from "./types";

const TEMPLATE = readFileSync(join(__dirname, "..", "templates", "dovecot.sieve.mustache"), "utf8");

/** RFC 5228 §2.4.2: inside a quoted string only `"` and `\` need escaping. */
export function sieveString(value: string): string {
  return value.replace(/[\\"]/g, (c) => `\\${c}`);
}

/** POSIX ERE literal: bracket every metacharacter so no backslash reaches the sieve string. */
function ereLiteral(value: string): string {
  return value.replace(/[.[\]{}()*+?^$|\\]/g, (c) => (c === "\\" || c === "^" || c === "]" ? `\\${c}` : `[${c}]`));
}

/**
 * One Authentication-Results method result (RFC 8601) with its property naming the domain, matched
 * against the topmost header only (the template's `:index 1`): the receiving server prepends its
 * verdict, and every header below it came with the message, so anyone can have written it. With a
 * trusted authserv-id the topmost header must also name that server.
 */
function verdictPattern(method: string, property: string, domain: string, authservId?: string): string {
  const from = authservId ? `^[[:space:]]*${ereLiteral(authservId)}([[:space:]]+[0-9]+)?[[:space:]]*;(.*;)?` : ";";
  return `${from}[[:space:]]*${method}=pass[^;]*${property}=${ereLiteral(domain)}([^-.a-z0-9]|$)`;
}

const withSeparators = <T extends object>(items: readonly T[]) =>
  items.map((item, i) => ({ ...item, sep: i < items.length - 1 ? "," : "" }));

export function renderSieve(mailbox: Mailbox): string {
  const plain = mailbox.senders.filter((s) => !s.requireAuthentication);
  const authenticated = mailbox.senders
    .filter((s) => s.requireAuthentication)
    .map((s) => {
      const domain = s.address.slice(s.address.lastIndexOf("@") + 1);
      return {
        address: s.address,
        domain,
        header: mailbox.authResultsHeader,
        dkim: verdictPattern("dkim", "header[.]d", domain, mailbox.trustedAuthservId),
        dmarc: verdictPattern("dmarc", "header[.]from", domain, mailbox.trustedAuthservId),
      };
    });
  const requires = ["relational", "comparator-i;ascii-numeric", ...(authenticated.length ? ["index", "regex"] : [])];
  const view = {
    mailbox: mailbox.address,
    requires: withSeparators(requires.map((name) => ({ name }))),
    hasPlain: plain.length > 0,
    plain: withSeparators(plain.map((s) => ({ address: s.address }))),
    authenticated,
  };
  // Every {{value}} is escaped for sieve string syntax instead of HTML.
  return Mustache.render(TEMPLATE, view, {}, { escape: sieveString });
}

/**
 * Pigeonhole refuses a script over sieve_max_script_size (1 MiB by default; docker-mailserver keeps
 * the default) -- and a refused script is skipped at delivery, keeping every mail. 1 MiB is also
 * what a ConfigMap's data may hold.
 */
export const SIEVE_MAX_BYTES = 1024 * 1024;

/** The problem with a mailbox whose rendered allowlist is over that limit, named at `where`. */
export function sieveSizeProblem(mailbox: Mailbox, where: string): string | undefined {
  const bytes = Buffer.byteLength(renderSieve(mailbox));
  if (bytes <= SIEVE_MAX_BYTES) return undefined;
  return (
    `${where}.senders: ${mailbox.senders.length} senders make the sieve of ${mailbox.address} ${bytes} bytes long;` +
    ` Pigeonhole refuses a script over ${SIEVE_MAX_BYTES} bytes (sieve_max_script_size, also a ConfigMap's limit):` +
    ` move senders to another mailbox`
  );
}

/** A ConfigMap key cannot hold `@` (docs/mailserver.md#configmap-keys-and-mounts): docs@d -> `docs-at-d.dovecot.sieve`. */
export function sieveConfigMapKey(address: string): string {
  return `${atName(address)}.dovecot.sieve`;
}

/** The file name docker-mailserver installs as the user's active script: `<address>.dovecot.sieve`. */
export function sieveFileName(address: string): string {
  return `${address}.dovecot.sieve`;
}
