// parseConfig: raw stack config (Pulumi structured config or the stack YAML) -> IngestConfig,
// or every problem found, each naming the value and its place.
import { z } from "zod";
import { type CodedError, codedError, hasCode } from "../core/codedError";
import { describeUnsafe, escapeUnsafe, show, UNSAFE_CHARACTER } from "../core/displayText";
import { CONFIGMAP_KEY, derivedNameProblems, DNS_LABEL, DNS_SUBDOMAIN, type NameRule, ruleBroken } from "../core/objectNames";
import { sieveSizeProblem } from "../core/sieve";
import type { IngestConfig, Mailbox, Sender } from "../core/types";

// Deliberately narrower than RFC 5322: no quoted local parts or comments, so an address
// can never carry sieve, regex or IMAP syntax into what is generated from it.
const EMAIL = /^[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;
// RFC 5321 §4.5.3.1.3: a path holds 256 octets, the address without its angle brackets 254.
const EMAIL_MAX = 254;
// Django's default username validator (paperless users are Django users).
const USERNAME = /^[\w.@+-]{1,150}$/;

const RULE_PREFIX = "forward: ";
const NAME_MAX = 256; // paperless CharField(256): rule and account names, folders
const TAG_MAX = 128; // paperless CharField(128): tag names
const DEFAULT_TAG = "email-ingest";

const email = z
  .string()
  .trim()
  .max(EMAIL_MAX, { message: `is longer than ${EMAIL_MAX} characters, the longest address SMTP carries (RFC 5321)` })
  .regex(EMAIL, { message: "is not an email address" });
// An ingest mailbox's address also names Kubernetes objects, volumes and ConfigMap keys
// (docs@d -> docs-at-d): before the @ only what a DNS subdomain holds, so every derived name is valid.
const mailboxAddress = email.pipe(
  z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*@/, {
    message:
      "cannot be an ingest mailbox: before the @ only letters, digits, '-' and '.', each part between dots starting and " +
      "ending with a letter or digit (the address names Kubernetes objects)",
  }),
);
// Unsafe characters (control, separator, bidi) are refused for every string by unsafeText().
const text = (max: number) =>
  z
    .string()
    .min(1, { message: "must not be empty" })
    .max(max, { message: `is longer than ${max} characters` });
/** A Kubernetes name of the given `kind` ("namespace name"), checked by Kubernetes' own rule. */
const kubeName = (rule: NameRule, kind: string) =>
  z.string().superRefine((name, ctx) => {
    const broken = ruleBroken(rule, name);
    if (broken) ctx.addIssue({ code: "custom", message: `is not a valid ${kind}: it ${broken}` });
  });
// Mail servers write it: one the sender writes (Subject) would let a forger supply the verdict.
const AUTH_RESULTS_HEADER = /^([A-Za-z0-9][A-Za-z0-9-]*-)?Authentication-Results$/i;
// Credentials in the URL would reach the plan, the state and every message naming the server.
const URL_CREDENTIALS = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*@/;

const senderSchema = z.strictObject({
  address: email,
  user: z.string().regex(USERNAME, { message: "is not a paperless username (letters, digits and @.+-_ only, at most 150)" }),
  label: text(NAME_MAX - RULE_PREFIX.length).optional(),
  order: z.number().int().min(-32768).max(32767).optional(),
  tags: z.array(text(TAG_MAX)).optional(),
  requireAuthentication: z.boolean().optional(),
});

const mailboxSchema = z.strictObject({
  address: mailboxAddress,
  accountName: text(NAME_MAX).optional(),
  tag: text(TAG_MAX).optional(),
  // Reaches doveadm as an argument: a leading '-' would read as an option.
  processedFolder: text(NAME_MAX).regex(/^[^-]/, { message: "must not start with '-'" }).optional(),
  // paperless stores it in a PositiveSmallIntegerField: PostgreSQL refuses more at `pulumi up`.
  maximumAge: z
    .number()
    .int()
    .min(0)
    .max(32767, { message: "is more than 32767 days, the most paperless stores (maximum_age is a positive small integer)" })
    .optional(),
  ruleOrderStart: z.number().int().min(-32768).max(32767).optional(),
  authResultsHeader: z
    .string()
    .regex(AUTH_RESULTS_HEADER, {
      message:
        'is not an Authentication-Results header ("Authentication-Results" or a name ending in "-Authentication-Results", ' +
        "any case): requireAuthentication reads the receiving server's DKIM/DMARC verdict from it, and a header the sender " +
        "writes, such as Subject, would let a forger supply the verdict",
    })
    .optional(),
  trustedAuthservId: z
    .string()
    .max(253, { message: "is longer than 253 characters" })
    .regex(/^[A-Za-z0-9.-]+$/, { message: "is not a host name" })
    .optional(),
  senders: z.array(senderSchema).min(1, { message: "must list at least one sender" }),
});

const namespace = kubeName(DNS_LABEL, "namespace name");
const deployment = kubeName(DNS_SUBDOMAIN, "Deployment name");
const container = kubeName(DNS_LABEL, "container name");
const configMapKey = kubeName(CONFIGMAP_KEY, "ConfigMap key");

const mailserverSchema = z.strictObject({
  namespace: namespace.default("mailserver"),
  deployment: deployment.default("mailserver"),
  container: container.default("docker-mailserver"),
  configMap: kubeName(DNS_SUBDOMAIN, "ConfigMap name").default("mailserver.config"),
  accountsKey: configMapKey.default("postfix-accounts.cf"),
  virtualKey: configMapKey.default("postfix-virtual.cf"),
  configDir: z
    .string()
    .regex(/^\/[^\s]*$/, { message: "is not an absolute path" })
    .default("/tmp/docker-mailserver"),
  mailRoot: z
    .string()
    .regex(/^\/[^\s]*$/, { message: "is not an absolute path" })
    .default("/var/mail"),
  imapHost: z
    .string()
    .max(253, { message: "is longer than 253 characters" })
    .regex(/^[A-Za-z0-9.-]+$/, { message: "is not a host name" }),
  imapPort: z.number().int().min(1).max(65535).default(993),
  imapSecurity: z.enum(["none", "ssl", "starttls"]).default("ssl"),
});

const paperlessSchema = z.strictObject({
  url: z
    .string()
    .regex(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, { message: "is not an http(s) URL" })
    .refine((url) => !URL_CREDENTIALS.test(url), {
      message:
        "holds a user name or password (masked here): give paperless's API token with " +
        "`pulumi config set --secret paperlessToken <token>` (or PAPERLESS_API_TOKEN) and remove it from the URL",
    }),
  fetchAfterChange: z.boolean().default(false),
});

const vaultSchema = z.strictObject({
  mount: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, { message: "is not a Vault mount name" })
    .default("secret"),
  pathPrefix: z
    .string()
    .regex(/^[A-Za-z0-9_.@-]+(\/[A-Za-z0-9_.@-]+)*$/, { message: "is not a Vault path" })
    .default("paperless-mail-ingest"),
});

const hostPort = z
  .string()
  .regex(/^[A-Za-z0-9.-]+:[0-9]{1,5}$/, { message: "is not host:port" })
  .refine((v) => Number(v.split(":")[1]) >= 1 && Number(v.split(":")[1]) <= 65535, { message: "has a port outside 1-65535" });

// Read only by `npm run doctor` (doctor/): where it reaches the servers from, and the canary mail.
const doctorSchema = z.strictObject({
  imap: hostPort.optional(),
  fetchPeriodMinutes: z.number().positive({ message: "must be more than 0" }).max(1440, { message: "is more than a day" }).default(10),
});
const canarySchema = z.strictObject({ sender: email, smtp: hostPort });

const configSchema = z.strictObject({
  mailboxes: z.array(mailboxSchema).min(1, { message: "must list at least one ingest mailbox" }),
  mailserver: mailserverSchema,
  paperless: paperlessSchema,
  vault: vaultSchema.default({ mount: "secret", pathPrefix: "paperless-mail-ingest" }),
  doctor: doctorSchema.default({ fetchPeriodMinutes: 10 }),
  canary: canarySchema.optional(),
});

type RawConfig = z.infer<typeof configSchema>;

const CONFIG_ERROR = "CONFIG_ERROR";

/** Every problem of the configuration `source` names (a stack file, the running stack). */
export type ConfigError = CodedError<typeof CONFIG_ERROR, { problems: readonly string[]; source: string }>;

export function configError(problems: readonly string[], source: string): ConfigError {
  const message = `${source}: ${problems.length} problem(s) in the configuration:\n` + problems.map((p) => `  - ${p}`).join("\n");
  return codedError(CONFIG_ERROR, message, { problems, source });
}

export const isConfigError = (e: unknown): e is ConfigError => hasCode(e, CONFIG_ERROR);

/** Invalid input is an expected outcome of parsing, so a value; configError() makes it the error to throw. */
export type ParseResult = { ok: true; config: IngestConfig } | { ok: false; problems: string[] };

/** `mailboxes[0].senders[3].address` */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, key) => (typeof key === "number" ? `${acc}[${key}]` : acc ? `${acc}.${escapeUnsafe(String(key))}` : escapeUnsafe(String(key))),
    "",
  );
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const key of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

// Keys earlier versions of the program read, and why they are gone: a stack file that still has
// one is told what to delete instead of seeing a bare "unknown key".
const FETCH_BY_API =
  "no longer used: the fetch after a change goes through paperless's API, not kubectl exec into its pod; delete this key";
const RETIRED_KEYS: Readonly<Record<string, string>> = {
  "paperless.namespace": FETCH_BY_API,
  "paperless.deployment": FETCH_BY_API,
  "paperless.container": FETCH_BY_API,
};

function describeIssue(raw: unknown, issue: z.core.$ZodIssue): string[] {
  const where = formatPath(issue.path);
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((k) => {
      const at = formatPath([...issue.path, k]);
      return `${at}: ${RETIRED_KEYS[at] ?? "unknown key (check the spelling)"}`;
    });
  }
  const value = valueAt(raw, issue.path);
  if (issue.code === "invalid_type") {
    return [`${where || "(top level)"}: ${value === undefined ? "is required" : `${show(value)} should be ${issue.expected}`}`];
  }
  return [`${where}: ${show(value)} ${issue.message}`];
}

/**
 * Every string (and key) of the raw config holding a character UNSAFE_CHARACTER refuses, by path:
 * names, labels, folders and tags reach paperless, sieve comments and terminals, where such a
 * character breaks a line or shows the text in another order than it is.
 */
function unsafeText(value: unknown, path: PropertyKey[], found: Map<string, string>): void {
  const report = (text: string, at: PropertyKey[], what: string) => {
    const c = UNSAFE_CHARACTER.exec(text)?.[0];
    if (c !== undefined) found.set(formatPath(at), `${formatPath(at)}: ${what} contains ${describeUnsafe(c)}; remove it`);
  };
  if (typeof value === "string") report(value, path, show(value));
  else if (Array.isArray(value)) value.forEach((v, i) => unsafeText(v, [...path, i], found));
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      report(k, [...path, k], "the key");
      unsafeText(v, [...path, k], found);
    }
  }
}

/** The schema's issues, one per place (the first), none where unsafeText already names the value. */
function schemaProblems(raw: unknown, issues: readonly z.core.$ZodIssue[], unsafe: ReadonlyMap<string, string>): string[] {
  const seen = new Set<string>(unsafe.keys());
  return issues.flatMap((issue) => {
    const where = formatPath(issue.path);
    if (issue.code !== "unrecognized_keys") {
      if (seen.has(where)) return [];
      seen.add(where);
    }
    return describeIssue(raw, issue);
  });
}

// Loose readers so cross-field rules still run when the schema has failed elsewhere:
// the user sees every problem in one pass.
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const field = (v: unknown, key: string): unknown => (v !== null && typeof v === "object" ? (v as Record<string, unknown>)[key] : undefined);
const lowerString = (v: unknown): string | undefined => (typeof v === "string" ? v.trim().toLowerCase() : undefined);

/**
 * Pairs of a mailbox's senders where one address is inside the other. paperless hands filter_from
 * to the IMAP server's SEARCH FROM, a substring match, so the rule of the shorter address also
 * takes the longer one's mail. With both full addresses (one '@' each) a is inside b exactly when
 * a's local part ends b's and a's domain starts b's: indexed that way, no pairwise scan.
 */
function overlappingSenders(senders: readonly { address: string; where: string }[]): string[] {
  const byDomain = new Map<string, Map<string, string>>();
  for (const { address, where } of senders) {
    const [local, domain] = address.split("@") as [string, string];
    const locals = byDomain.get(domain) ?? new Map<string, string>();
    locals.set(local, where);
    byDomain.set(domain, locals);
  }
  const problems: string[] = [];
  for (const { address, where } of senders) {
    const [local, domain] = address.split("@") as [string, string];
    for (let d = 1; d <= domain.length; d++) {
      const locals = byDomain.get(domain.slice(0, d));
      if (!locals) continue;
      for (let l = 0; l < local.length; l++) {
        const inner = `${local.slice(l)}@${domain.slice(0, d)}`;
        const other = locals.get(local.slice(l));
        if (other === undefined || inner === address) continue;
        problems.push(
          `${where}.address: ${show(address)} contains ${other}.address ${show(inner)}: paperless matches a rule's ` +
            `filter_from as a substring of From (IMAP SEARCH FROM), so the rule of ${show(inner)} would also take mail from ` +
            `${show(address)} and file it as that sender's; list only addresses neither of which contains the other`,
        );
      }
    }
  }
  return problems;
}

/**
 * A sender's tags named twice, or naming the mailbox's tag (which every rule gets first), compared
 * ignoring case as paperless tags are found by name: both spellings would be one tag, and the rule
 * read back would differ from the config after every refresh.
 */
function repeatedTags(mailboxTag: string, tags: unknown, where: string): string[] {
  const problems: string[] = [];
  const firstAt = new Map<string, number>();
  list(tags).forEach((tag, k) => {
    if (typeof tag !== "string") return;
    const key = tag.trim().toLowerCase();
    const first = firstAt.get(key);
    if (key === mailboxTag.trim().toLowerCase()) {
      problems.push(
        `${where}.tags[${k}]: ${show(tag)} is the mailbox's tag ${show(mailboxTag)}, which every rule of the mailbox ` +
          "gets anyway (tag names compare ignoring case): remove it",
      );
    } else if (first !== undefined) {
      problems.push(
        `${where}.tags[${k}]: ${show(tag)} is ${where}.tags[${first}] again (tag names compare ignoring case, ` +
          "so both would be one paperless tag): list each tag once",
      );
    } else firstAt.set(key, k);
  });
  return problems;
}

/** Cross-field rules a schema cannot express: uniqueness, repeated tags and mailbox/sender overlap. */
function crossCheck(raw: unknown): string[] {
  const problems: string[] = [];
  const mailboxes = list(field(raw, "mailboxes"));
  const mailboxAt = new Map<string, number>();
  const accountAt = new Map<string, number>();
  mailboxes.forEach((m, i) => {
    const address = lowerString(field(m, "address"));
    if (address === undefined) return;
    const first = mailboxAt.get(address);
    if (first !== undefined) {
      problems.push(`mailboxes[${i}].address: ${show(field(m, "address"))} is already mailboxes[${first}].address`);
      return;
    }
    mailboxAt.set(address, i);
    const name = typeof field(m, "accountName") === "string" ? (field(m, "accountName") as string) : address;
    const firstAccount = accountAt.get(name);
    if (firstAccount !== undefined)
      problems.push(
        `mailboxes[${i}].accountName: ${show(name)} is already the account name of mailboxes[${firstAccount}] (paperless account names are globally unique)`,
      );
    else accountAt.set(name, i);
  });
  // paperless rule names are unique per owner (docs/paperless-api.md#objects).
  const ruleAt = new Map<string, string>();
  mailboxes.forEach((m, i) => {
    const tag = field(m, "tag");
    const mailboxTag = typeof tag === "string" ? tag : DEFAULT_TAG;
    const senderAt = new Map<string, number>();
    const distinct: { address: string; where: string }[] = [];
    list(field(m, "senders")).forEach((s, j) => {
      const where = `mailboxes[${i}].senders[${j}]`;
      problems.push(...repeatedTags(mailboxTag, field(s, "tags"), where));
      const address = lowerString(field(s, "address"));
      if (address === undefined) return;
      const first = senderAt.get(address);
      if (first !== undefined) {
        problems.push(
          `${where}.address: ${show(field(s, "address"))} duplicates mailboxes[${i}].senders[${first}].address (addresses compare case-insensitively)`,
        );
        return;
      }
      senderAt.set(address, j);
      if (EMAIL.test(address)) distinct.push({ address, where });
      const mb = mailboxAt.get(address);
      if (mb !== undefined)
        problems.push(
          `${where}.address: ${show(field(s, "address"))} is itself an ingest mailbox (mailboxes[${mb}]); mail from it would loop`,
        );
      const user = field(s, "user");
      const label = field(s, "label");
      const ruleName = RULE_PREFIX + (typeof label === "string" ? label : address);
      if (typeof label !== "string" && ruleName.length > NAME_MAX) {
        problems.push(
          `${where}.address: ${show(field(s, "address"))} is also the rule's name (no label is set): ${show(ruleName)} ` +
            `has ${ruleName.length} characters, over the ${NAME_MAX} paperless holds; set a \`label\` of at most ${NAME_MAX - RULE_PREFIX.length}`,
        );
      }
      const ruleKey = `${String(user)}\u0000${ruleName}`;
      const firstRule = ruleAt.get(ruleKey);
      if (firstRule !== undefined)
        problems.push(
          `${where}.label: rule name ${show(ruleName)} for user ${show(user)} is already used by ${firstRule} (paperless rule names are unique per owner)`,
        );
      else ruleAt.set(ruleKey, where);
    });
    problems.push(...overlappingSenders(distinct));
  });
  return problems;
}

function build(raw: RawConfig): IngestConfig {
  const mailboxes: Mailbox[] = raw.mailboxes.map((m) => {
    const address = m.address.toLowerCase();
    const [localPart, domain] = address.split("@") as [string, string];
    const tag = m.tag ?? DEFAULT_TAG;
    const orderStart = m.ruleOrderStart ?? 100;
    const senders: Sender[] = m.senders.map((s) => {
      const label = s.label ?? s.address.toLowerCase();
      return {
        address: s.address.toLowerCase(),
        user: s.user,
        label,
        ruleName: RULE_PREFIX + label,
        // One default for every sender, so removing one never renumbers the others' rules. Their
        // relative order does not matter: a rule takes only mail whose From contains its sender's
        // address, and no sender's address contains another's (validated; README "Limits").
        order: s.order ?? orderStart,
        tags: [tag, ...(s.tags ?? [])],
        requireAuthentication: s.requireAuthentication ?? false,
      };
    });
    return {
      address,
      localPart,
      domain,
      accountName: m.accountName ?? address,
      tag,
      inboxFolder: "INBOX",
      processedFolder: m.processedFolder ?? "Processed",
      maximumAge: m.maximumAge ?? 30,
      authResultsHeader: m.authResultsHeader ?? "Authentication-Results",
      ...(m.trustedAuthservId ? { trustedAuthservId: m.trustedAuthservId.toLowerCase() } : {}),
      senders,
    };
  });
  const hp = (v: string) => ({ host: v.split(":")[0]!, port: Number(v.split(":")[1]) });
  return {
    mailboxes,
    mailserver: raw.mailserver,
    paperless: raw.paperless,
    vault: raw.vault,
    doctor: { fetchPeriodMinutes: raw.doctor.fetchPeriodMinutes, ...(raw.doctor.imap ? { imap: hp(raw.doctor.imap) } : {}) },
    ...(raw.canary ? { canary: { sender: raw.canary.sender.toLowerCase(), smtp: hp(raw.canary.smtp) } } : {}),
  };
}

/** The canary must be a sender some mailbox lists, without requireAuthentication (it carries no DKIM signature). */
function canaryProblem(config: IngestConfig): string | undefined {
  const sender = config.canary?.sender;
  if (sender === undefined) return undefined;
  const listings = config.mailboxes.flatMap((m) => m.senders.filter((s) => s.address === sender));
  if (!listings.length)
    return `canary.sender: ${show(sender)} is not a sender of any mailbox; name a listed sender (its mail is kept by the sieve and filed by its rule)`;
  return listings.some((s) => s.requireAuthentication)
    ? `canary.sender: ${show(sender)} has requireAuthentication: the canary carries no DKIM signature of its domain, so the sieve would discard it; name a sender without it`
    : undefined;
}

/** Validate everything and return the typed config, or all problems found (never just the first). */
export function parseConfig(raw: unknown): ParseResult {
  const parsed = configSchema.safeParse(raw);
  const unsafe = new Map<string, string>();
  unsafeText(raw, [], unsafe);
  const problems = [...(parsed.success ? [] : schemaProblems(raw, parsed.error.issues, unsafe)), ...unsafe.values(), ...crossCheck(raw)];
  if (problems.length || !parsed.success) return { ok: false, problems };
  const config = build(parsed.data);
  // Limits of what is generated from a valid config: the names derived from it, the sieve's size;
  // and the canary's sender, which needs the built sender lists.
  const generated = [
    ...derivedNameProblems(config),
    ...config.mailboxes.flatMap((m, i) => sieveSizeProblem(m, `mailboxes[${i}]`) ?? []),
    ...[canaryProblem(config)].filter((p): p is string => p !== undefined),
  ];
  return generated.length ? { ok: false, problems: generated } : { ok: true, config };
}
