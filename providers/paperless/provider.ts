// Pulumi dynamic providers for paperless-ngx mail accounts, mail rules and tags
// (docs/paperless-api.md). Inputs name the account, owner and tags; ids are resolved
// against the server at write time, so the same program works on any installation.
import { setTimeout as sleep } from "node:timers/promises";
import type * as pulumi from "@pulumi/pulumi";
import type { MailAccountPlan, MailRulePlan } from "../../core/paperlessPlan";
import { TOKEN_CONFIG_KEY, TOKEN_ENV } from "../../core/paperlessToken";
import { type Former, formerValues } from "./adoption";
import { isPaperlessApiError, type PaperlessApiError, supportsStopProcessing } from "./client";
import { closestName } from "../../core/closestName";
import { retryDelay } from "../http/retry";
import { remembered } from "../processMemory";
import { redact } from "../redact";
import { session, type Session } from "./session";
import { requireSuperuser } from "./superuser";

/**
 * Where the object lives. The API token is no input: it is read at call time (see credentials),
 * so a rotated token is no diff and refresh/destroy never need an old one from the state.
 */
export interface Connection {
  readonly url: string;
  /** Every kind has a name: it is how objects are adopted and how errors name them. */
  readonly name: string;
}
export type AccountInputs = Connection & MailAccountPlan & { readonly password: string };
/**
 * `stackAccounts`: the mail accounts of every mailbox of this stack. A sender's rule on another of
 * them is this stack's, so moving the sender may rename it aside (see makeRoom); a rule on any other
 * account is never touched. Not a field: never compared, never stored in the outputs.
 */
export type RuleInputs = Connection & MailRulePlan & { readonly stackAccounts?: readonly string[] };
export type TagInputs = Connection;
/**
 * Outputs = the declared inputs plus the server's numeric id and, only for an object the stack
 * adopted rather than created, what it changed there (adoption.ts).
 */
export type Outputs<I> = I & { readonly paperlessId: number; readonly adopted?: Former };

/** State fields holding secrets; the dynamic resources list them as additionalSecretOutputs. */
export const SECRET_OUTPUTS = ["password"] as const;

// Pulumi's placeholder for a value not known until apply (preview of a new dependency).
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

type FieldType = "text" | "optionalText" | "bool" | "texts" | { choices: readonly number[] } | { min: number; max: number };

interface WireObject {
  readonly id: number;
  readonly name: string;
  readonly owner?: number | null;
  readonly [field: string]: unknown;
}
interface WireUser {
  readonly id: number;
  readonly username: string;
}

const ACCOUNTS = "/api/mail_accounts/";
const RULES = "/api/mail_rules/";
const TAGS = "/api/tags/";
const USERS = "/api/users/";
/** What the three kinds read to check, compare and resolve names: every operation of a stack lists all four. */
const READ_TOGETHER = [ACCOUNTS, RULES, TAGS, USERS];
const CORRESPONDENTS = "/api/correspondents/";
const DOCUMENT_TYPES = "/api/document_types/";

/** What differs between the three kinds of object; the lifecycle below is shared. */
interface Kind<I extends Connection> {
  readonly label: string;
  readonly collection: string;
  /** Declared fields and their types: what check validates, diff compares and writes send. */
  readonly fields: Readonly<Record<string, FieldType>>;
  /** Secret declared fields: compared against state only, never against the server (it masks them). */
  readonly secrets: readonly string[];
  /** Cached lists a write to this kind makes stale (an account delete cascades to its rules: docs/paperless-api.md#objects). */
  readonly invalidates: readonly string[];
  validate?(news: I): pulumi.dynamic.CheckFailure[];
  checkRemote?(s: Session, news: I): Promise<pulumi.dynamic.CheckFailure[]>;
  toWire(s: Session, news: I, olds: I | undefined): Promise<Record<string, unknown>>;
  fromWire(s: Session, obj: WireObject, olds: I): Promise<Record<string, unknown>>;
  /** The hand-made (or half-created) object this resource should adopt, if any. */
  find(s: Session, news: I, objects: readonly WireObject[]): Promise<WireObject | undefined>;
  /** Why a delete must leave the object in place (a tag documents still carry), or undefined to delete it. */
  keptBecause?(s: Session, id: string, olds: I): Promise<string | undefined>;
  /** Frees what this object is about to take (its name), before it is created or `id` is updated. */
  makeRoom?(s: Session, news: I, id?: string): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Validation and comparison

const isUnknown = (v: unknown): boolean => v === UNKNOWN;

function typeProblem(type: FieldType, v: unknown): string | undefined {
  if (type === "text") return typeof v === "string" && v !== "" ? undefined : "must be a non-empty string";
  if (type === "optionalText") return typeof v === "string" ? undefined : "must be a string";
  if (type === "bool") return typeof v === "boolean" ? undefined : "must be true or false";
  if (type === "texts") {
    return Array.isArray(v) && v.every((x) => typeof x === "string" && x !== "") ? undefined : "must be a list of non-empty strings";
  }
  if ("min" in type) {
    return Number.isInteger(v) && (v as number) >= type.min && (v as number) <= type.max
      ? undefined
      : `must be an integer from ${type.min} to ${type.max}`;
  }
  return typeof v === "number" && type.choices.includes(v) ? undefined : `must be one of ${type.choices.join(", ")}`;
}

function validateFields<I extends Connection>(kind: Kind<I>, news: Record<string, unknown>): pulumi.dynamic.CheckFailure[] {
  const all: Record<string, FieldType> = { url: "text", ...kind.fields };
  for (const f of kind.secrets) all[f] = "text";
  const failures: pulumi.dynamic.CheckFailure[] = [];
  for (const [field, type] of Object.entries(all)) {
    const v = news[field];
    if (isUnknown(v)) continue;
    const problem = typeProblem(type, v);
    // Never echo a secret's value, only its field name.
    const secret = kind.secrets.includes(field);
    if (problem) failures.push({ property: field, reason: `${field}${secret ? "" : ` ${JSON.stringify(v)}`} ${problem}` });
  }
  if (typeof news.url === "string" && !isUnknown(news.url) && !/^https?:\/\/[^\s/]+/.test(news.url)) {
    failures.push({ property: "url", reason: `url ${JSON.stringify(news.url)} is not an http(s) URL` });
  }
  return failures;
}

/** Tags are a set on the server (M2M): order never counts as a change. */
function same(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    const sa = a.map(String).sort();
    const sb = b.map(String).sort();
    return sa.length === sb.length && sa.every((x, i) => x === sb[i]);
  }
  return a === b;
}

/**
 * The declared fields whose value differs, secrets included; `url` forces a replacement. A state
 * written before the token left the inputs still holds one: that counts as a change once, so the
 * update writes the state without it.
 */
export function changedFields<I extends Connection>(kind: Kind<I>, olds: I, news: I): { changed: string[]; replaces: string[] } {
  const compared = [...Object.keys(kind.fields), ...kind.secrets];
  const changed = compared.filter(
    (f) =>
      isUnknown((news as Record<string, unknown>)[f]) || !same((olds as Record<string, unknown>)[f], (news as Record<string, unknown>)[f]),
  );
  if ("token" in olds) changed.push("token");
  const replaces = olds.url !== news.url ? ["url"] : [];
  return { changed, replaces };
}

/**
 * How the object on the server differs from what a write of `news` would send: "gone" (deleted by
 * hand, or with its mail account) or the fields that differ. Names are resolved to ids exactly as a
 * write resolves them; secrets are not compared (the server masks them). Reads the memoized lists
 * check() read: no request per object.
 */
async function handChanges<I extends Connection>(
  s: Session,
  kind: Kind<I>,
  id: string,
  olds: I,
  news: I,
  edited: boolean,
): Promise<"gone" | string[]> {
  const obj = (await s.list<WireObject>(kind.collection)).find((o) => String(o.id) === id);
  if (!obj) return "gone";
  if (edited) return []; // the update writes every declared field anyway
  let body: Record<string, unknown>;
  try {
    body = await kind.toWire(s, news, olds);
  } catch (e) {
    if (isPaperlessApiError(e)) throw e;
    return ["a tag or user it names is gone"]; // the update resolves the names again, after their own resources
  }
  return Object.keys(formerValues(obj, body, kind.secrets)); // the fields a write would change
}

/** Declared state to store: only the kind's own fields (no `__provider`, nothing unexpected); `adopted` only when it was. */
function outputs<I extends Connection>(kind: Kind<I>, news: I, id: number, adopted: Former | undefined): Outputs<I> {
  const out: Record<string, unknown> = { url: news.url, paperlessId: id };
  for (const f of [...Object.keys(kind.fields), ...kind.secrets]) out[f] = (news as Record<string, unknown>)[f];
  if (adopted) out.adopted = adopted;
  return out as unknown as Outputs<I>;
}

// ---------------------------------------------------------------------------------------------
// Errors: name the object, keep the server's field errors, never show a secret.

/** Where the operation's API token came from: the stack setting as the engine handed it over, else the environment. */
interface TokenSource {
  readonly token: string;
  readonly fromEnv: boolean;
}
const describeSource = (t: TokenSource) => (t.fromEnv ? TOKEN_ENV : `the stack setting \`${TOKEN_CONFIG_KEY}\``);

/** What the user can do about a failure that is not the object's own fault. */
function remedy(e: PaperlessApiError, url: string, source: TokenSource | undefined): string {
  if (e.status === undefined) {
    return `; paperless-ngx at ${url} did not answer: check \`paperless.url\` in the stack config and that paperless-ngx is running and reachable from here`;
  }
  if (e.status === 401 && source?.fromEnv) {
    return `; the API token from ${TOKEN_ENV} was rejected (no stack setting \`${TOKEN_CONFIG_KEY}\` reached this operation): export a valid one`;
  }
  if (e.status === 401) {
    // The engine hands a plain refresh or destroy the provider configuration the last `up` saved,
    // so neither the stack file's current setting nor the environment reaches them.
    return (
      `; the API token from the stack setting \`${TOKEN_CONFIG_KEY}\` was rejected. Set a valid one with \`pulumi config set --secret ` +
      "paperlessToken <token>`, then run `pulumi up`: until then `pulumi refresh` and `pulumi destroy` use the token the last `up` saved " +
      `(add \`--run-program\` to them to use the new one), and ${TOKEN_ENV} is not read while the setting is there`
    );
  }
  if (e.status === 403) {
    return (
      "; the token's user may not do this: paperless answers 403 even to lists for a user without model permissions. " +
      "Use the API token of a paperless superuser"
    );
  }
  return "";
}

/** A readable message of anything thrown (not everything thrown is an Error). */
function messageOf(e: unknown): string {
  const m = typeof e === "object" && e !== null ? (e as { message?: unknown }).message : undefined;
  return typeof m === "string" && m !== "" ? m : String(e);
}

/**
 * Runs `action` on the session of `url` with the operation's token, once that token is known to
 * be a superuser's. What fails is named `what` and gets its remedy; neither the token nor
 * `secrets` ever shows.
 */
export async function withSuperuserSession<T>(
  creds: Credentials,
  what: string,
  url: string,
  secrets: readonly unknown[],
  action: (s: Session) => Promise<T>,
): Promise<T> {
  const current = creds.current();
  try {
    const source = creds.require();
    const s = session(url, source.token, READ_TOGETHER);
    await requireSuperuser(s, describeSource(source));
    return await action(s);
  } catch (e) {
    const message = isPaperlessApiError(e)
      ? `${what}: ${e.detail} (${e.method} ${e.path} → ${e.status ?? "no response"})${remedy(e, url, current)}`
      : `${what}: ${messageOf(e)}`;
    const err = new Error(redact(message, [current?.token, ...secrets]));
    // The original stack would repeat the unredacted message.
    err.stack = `${err.name}: ${err.message}`;
    throw err;
  }
}

const notFound = (e: unknown): boolean => isPaperlessApiError(e) && e.status === 404;

/** `"forward: Anca" (id 12)`: how a message names an object of the server. */
const named = (o: WireObject): string => `${JSON.stringify(o.name)} (id ${o.id})`;

// ---------------------------------------------------------------------------------------------
// Name <-> id resolution over the memoized lists

/** Exact match first, then case-insensitive if that is unambiguous (Django's `__iexact`: docs/paperless-api.md#reads). */
function byName<T>(items: readonly T[], name: string, key: (t: T) => string): T[] {
  const exact = items.filter((t) => key(t) === name);
  if (exact.length) return exact;
  return items.filter((t) => key(t).toLowerCase() === name.toLowerCase());
}

async function userId(s: Session, username: string): Promise<number> {
  const users = await s.list<WireUser>(USERS);
  const found = byName(users, username, (u) => u.username);
  if (found.length > 1) {
    throw new Error(
      `owner: ${JSON.stringify(username)} matches several paperless users when case is ignored ` +
        `(${found.map((u) => u.username).join(", ")}); write the username exactly`,
    );
  }
  if (!found.length) {
    const near = closestName(
      username,
      users.map((u) => u.username),
    );
    throw new Error(
      `owner: paperless user ${JSON.stringify(username)} does not exist on ${s.client.baseUrl}${near ? ` (did you mean ${JSON.stringify(near)}?)` : ""}; ` +
        "create the user in paperless-ngx or fix the sender's `user` in the stack config",
    );
  }
  return found[0]!.id;
}

async function accountId(s: Session, name: string): Promise<number> {
  const found = (await s.list<WireObject>(ACCOUNTS)).find((a) => a.name === name);
  if (!found) throw new Error(`account: mail account ${JSON.stringify(name)} does not exist on ${s.client.baseUrl}`);
  return found.id;
}

/** The id of a correspondent or document type by name; "" is none (null). Listed only when one is named. */
async function refId(s: Session, collection: string, field: string, name: string): Promise<number | null> {
  if (name === "") return null;
  const found = byName(await s.list<WireObject>(collection), name, (o) => o.name);
  if (!found.length) throw new Error(`${field}: ${JSON.stringify(name)} does not exist on ${s.client.baseUrl}`);
  return found[0]!.id;
}

/** The name of a referenced correspondent or document type; null is "". Listed only when one is set. */
async function refName(s: Session, collection: string, id: unknown): Promise<string> {
  if (id === null || id === undefined) return "";
  return nameOf(await s.list<WireObject>(collection), id, (o) => o.name);
}

async function tagIds(s: Session, names: readonly string[]): Promise<number[]> {
  const tags = await s.list<WireObject>(TAGS);
  return names.map((n) => {
    const found = byName(tags, n, (t) => t.name);
    if (!found.length) throw new Error(`assign_tags: tag ${JSON.stringify(n)} does not exist on ${s.client.baseUrl}`);
    return found[0]!.id;
  });
}

/** A name for an id; `#<id>` when the object is not visible, which then shows as drift. */
function nameOf<T extends { id: number }>(items: readonly T[], id: unknown, key: (t: T) => string): string {
  const found = items.find((t) => t.id === id);
  return found ? key(found) : `#${String(id)}`;
}

// ---------------------------------------------------------------------------------------------
// The three kinds

const pick = (obj: Record<string, unknown>, fields: readonly string[]) => Object.fromEntries(fields.map((f) => [f, obj[f]]));

// Declared fields per kind, in paperless's names and enum values (docs/paperless-api.md).
// Integer ranges are the database columns' (PositiveInteger, SmallInteger, PositiveSmallInteger):
// SQLite stores anything, PostgreSQL refuses past them at write time.
const ACCOUNT_FIELDS: Readonly<Record<string, FieldType>> = {
  name: "text",
  imap_server: "text",
  imap_port: { min: 1, max: 65535 },
  imap_security: { choices: [1, 2, 3] },
  username: "text",
  character_set: "text",
  account_type: { choices: [1, 2, 3] },
  is_token: "bool",
};
// Every writable field of paperless's mail rule serializer but the permission ones.
const RULE_FIELDS: Readonly<Record<string, FieldType>> = {
  name: "text",
  account: "text",
  owner: "text",
  order: { min: -32768, max: 32767 },
  enabled: "bool",
  folder: "text",
  filter_from: "optionalText",
  filter_to: "optionalText",
  filter_subject: "optionalText",
  filter_body: "optionalText",
  filter_attachment_filename_include: "optionalText",
  filter_attachment_filename_exclude: "optionalText",
  maximum_age: { min: 0, max: 32767 },
  action: { choices: [1, 2, 3, 4, 5] },
  action_parameter: "optionalText",
  assign_title_from: { choices: [1, 2, 3] },
  assign_tags: "texts",
  assign_owner_from_rule: "bool",
  assign_correspondent_from: { choices: [1, 2, 3, 4] },
  assign_correspondent: "optionalText",
  assign_document_type: "optionalText",
  attachment_type: { choices: [1, 2] },
  consumption_scope: { choices: [1, 2, 3] },
  pdf_layout: { choices: [0, 1, 2, 3, 4] },
  stop_processing: "bool",
};
/** The rule's text fields that may be "" (no filter, no reference): packed.ts leaves those out of the state. */
export const RULE_OPTIONAL_TEXT = Object.keys(RULE_FIELDS).filter((f) => RULE_FIELDS[f] === "optionalText");
// Nullable text fields: paperless stores null where the plan says "" (docs/paperless-api.md#objects).
const NULLABLE_TEXT = [
  "filter_from",
  "filter_to",
  "filter_subject",
  "filter_body",
  "filter_attachment_filename_include",
  "filter_attachment_filename_exclude",
  "action_parameter",
] as const;

export const accountKind: Kind<AccountInputs> = {
  label: "mail account",
  collection: ACCOUNTS,
  fields: ACCOUNT_FIELDS,
  secrets: ["password"],
  invalidates: [ACCOUNTS, RULES],
  async toWire(_s, news, olds) {
    const body = pick(news as unknown as Record<string, unknown>, Object.keys(ACCOUNT_FIELDS));
    // Only send the password when it is new: the server keeps the stored one otherwise (docs/paperless-api.md#writes).
    if (!olds || olds.password !== news.password) body.password = news.password;
    return body;
  },
  async fromWire(_s, obj, olds) {
    // The server masks the password on read (docs/paperless-api.md#writes), so the stored one is kept.
    return { ...pick(obj, Object.keys(ACCOUNT_FIELDS)), password: olds.password };
  },
  async find(_s, news, objects) {
    return objects.find((a) => a.name === news.name); // globally unique (docs/paperless-api.md#objects)
  },
  async keptBecause(s, id) {
    // Our rules are deleted before the account they depend on: a rule still on it is not the
    // stack's (made by hand, or adopted and handed back), and paperless deletes it with the account.
    const left = (await s.list<WireObject>(RULES)).filter((r) => String(r.account) === id);
    if (!left.length) return undefined;
    return (
      `paperless would delete with it the mail rules on it that this stack did not create: ${left.map(named).join(", ")}. ` +
      "Move those rules to another mail account or delete them in paperless-ngx, then delete the account there"
    );
  },
};

export const ruleKind: Kind<RuleInputs> = {
  label: "mail rule",
  collection: RULES,
  fields: RULE_FIELDS,
  secrets: [],
  invalidates: [RULES],
  validate(news) {
    // The server checks this only when both travel together (docs/paperless-api.md#writes); say it at preview.
    if ((news.action === 2 || news.action === 5) && news.action_parameter === "") {
      return [{ property: "action_parameter", reason: `action_parameter is required when action is ${news.action} (MOVE/TAG)` }];
    }
    return [];
  },
  async checkRemote(s, news) {
    if (isUnknown(news.owner)) return [];
    // A failure of the server itself is thrown; one of the inputs becomes the failure of its field.
    const failure = (property: string) => (e: unknown) => {
      if (isPaperlessApiError(e)) throw e;
      return [{ property, reason: messageOf(e) }];
    };
    const unknownOwner = await userId(s, news.owner).then(() => [], failure("owner"));
    if (unknownOwner.length || isUnknown(news.account) || isUnknown(news.filter_from)) return unknownOwner;
    // A name taken on another account must stop the preview, not a create half-way through `up`.
    return ruleKind.find(s, news, await s.list<WireObject>(RULES)).then(() => [], failure("name"));
  },
  async toWire(s, news) {
    const info = await s.client.serverInfo();
    const body: Record<string, unknown> = {
      ...pick(news as unknown as Record<string, unknown>, Object.keys(RULE_FIELDS)),
      account: await accountId(s, news.account),
      // Always explicit: a body without `owner` would make the token's user the owner (docs/paperless-api.md#writes).
      owner: await userId(s, news.owner),
      assign_tags: await tagIds(s, news.assign_tags),
      assign_correspondent: await refId(s, CORRESPONDENTS, "assign_correspondent", news.assign_correspondent),
      assign_document_type: await refId(s, DOCUMENT_TYPES, "assign_document_type", news.assign_document_type),
    };
    if (!supportsStopProcessing(info)) delete body.stop_processing; // 3.x only (docs/paperless-api.md#objects)
    return body;
  },
  async fromWire(s, obj, olds) {
    const [accounts, users, tags] = await Promise.all([s.list<WireObject>(ACCOUNTS), s.list<WireUser>(USERS), s.list<WireObject>(TAGS)]);
    return {
      ...pick(obj, Object.keys(RULE_FIELDS)),
      account: nameOf(accounts, obj.account, (a) => a.name),
      owner: obj.owner === null ? null : nameOf(users, obj.owner, (u) => u.username),
      assign_tags: (obj.assign_tags as number[]).map((id) => nameOf(tags, id, (t) => t.name)),
      assign_correspondent: await refName(s, CORRESPONDENTS, obj.assign_correspondent),
      assign_document_type: await refName(s, DOCUMENT_TYPES, obj.assign_document_type),
      // 2.x has no such field: nothing to drift from.
      stop_processing: obj.stop_processing ?? olds.stop_processing,
      ...Object.fromEntries(NULLABLE_TEXT.map((f) => [f, obj[f] ?? ""])),
    };
  },
  async find(s, news, objects) {
    const named = objects.filter((r) => r.name === news.name);
    if (!named.length) return undefined;
    const [account, owner] = [(await s.list<WireObject>(ACCOUNTS)).find((a) => a.name === news.account)?.id, await userId(s, news.owner)];
    const onAccount = named.filter((r) => r.account === account);
    // Same name and owner on our account is ours. With another owner, only the same sender's rule
    // is: two senders may share a label under different owners, and neither may take the other's.
    const sender = news.filter_from.toLowerCase();
    const pickOne =
      onAccount.find((r) => r.owner === owner) ??
      onAccount.find((r) => typeof r.filter_from === "string" && r.filter_from.toLowerCase() === sender);
    if (pickOne) return pickOne;
    const clash = named.find((r) => r.owner === owner);
    if (clash && clash !== (await movingRule(s, news, objects))) {
      // Names are unique per owner (docs/paperless-api.md#objects): adopting would move another account's rule.
      const where = (await s.list<WireObject>(ACCOUNTS)).find((a) => a.id === clash.account)?.name ?? `id ${String(clash.account)}`;
      throw new Error(
        `a rule with this name and owner ${JSON.stringify(news.owner)} already exists on mail account ${JSON.stringify(where)} ` +
          `(rule id ${clash.id}), which is not this sender's on another mailbox of this stack; rename or remove it. ` +
          "To move a sender off a mailbox you are also removing, move it in one `pulumi up` and remove the mailbox in the next",
      );
    }
    return undefined;
  },
  async makeRoom(s, news, id) {
    const moving = await movingRule(s, news, await s.list<WireObject>(RULES), id);
    if (!moving) return;
    // Names are unique per owner (docs/paperless-api.md#objects). Renamed, the old rule keeps filing the sender's
    // mail on its account until its own resource deletes it: deletes come last in an operation,
    // after the old mailbox's sieve has let the sender go, so no mail is kept there without a rule.
    const aside = `${news.name.slice(0, 120)} (moving to ${news.account.slice(0, 120)})`;
    await s.write("PATCH", `${RULES}${moving.id}/`, { name: aside }, [RULES]);
  },
};

/**
 * The sender's rule under the same name and owner on another mail account of this stack (not `except`):
 * the sender moved between this stack's mailboxes, and that rule's own resource goes at the end of this operation.
 */
async function movingRule(s: Session, news: RuleInputs, rules: readonly WireObject[], except?: string): Promise<WireObject | undefined> {
  const others = (news.stackAccounts ?? []).filter((a) => a !== news.account);
  if (!others.length) return undefined;
  const accounts = new Set((await s.list<WireObject>(ACCOUNTS)).filter((a) => others.includes(a.name)).map((a) => a.id));
  const [owner, sender] = [await userId(s, news.owner), news.filter_from.toLowerCase()];
  return rules.find(
    (r) =>
      r.name === news.name &&
      r.owner === owner &&
      accounts.has(r.account as number) &&
      String(r.id) !== except &&
      typeof r.filter_from === "string" &&
      r.filter_from.toLowerCase() === sender,
  );
}

export const tagKind: Kind<TagInputs> = {
  label: "tag",
  collection: TAGS,
  fields: { name: "text" },
  secrets: [],
  // Deleting a tag removes it from rules' assign_tags.
  invalidates: [TAGS, RULES],
  async toWire(_s, news, olds) {
    // Unowned on create: documents of every mapped owner carry it, so all of them must see it.
    return olds ? { name: news.name } : { name: news.name, owner: null };
  },
  async fromWire(_s, obj) {
    return { name: obj.name };
  },
  async find(_s, news, objects) {
    const found = byName(objects, news.name, (t) => t.name);
    return found.find((t) => t.owner === null) ?? found[0];
  },
  async keptBecause(s, id) {
    // `/api/documents/?tags__id__all=` counts documents the token can see (a superuser sees all); the
    // tag's own `document_count` is the same permission-filtered count but absent from older servers.
    const docs = await s.client.request<{ count: number }>("GET", `/api/documents/?tags__id__all=${id}&page_size=1`);
    if (docs.count > 0) return `${docs.count} document(s) carry it`;
    // Our rules are deleted before the tag they depend on; a rule still assigning it is someone else's.
    const assigning = (await s.list<WireObject>(RULES)).filter((r) => (r.assign_tags as number[]).includes(Number(id)));
    return assigning.length ? `mail rules this stack did not create assign it: ${assigning.map(named).join(", ")}` : undefined;
  },
};

// ---------------------------------------------------------------------------------------------
// The lifecycle, shared by the three kinds

/**
 * The name a create gives an object until it has heard back: an object found under it was made by
 * a create of this stack whose answer never came (a timeout, a killed CLI), so it is the stack's to
 * finish, never a hand-made one to adopt. It fits paperless's shortest name column (a tag's, 128).
 */
export function unfinishedName(name: string): string {
  const suffix = " (unfinished pulumi create)";
  return name.slice(0, 128 - suffix.length) + suffix;
}

/** The object a create should take over: one it left unfinished, else one of the same name (to adopt). */
async function located<I extends Connection>(s: Session, kind: Kind<I>, news: I): Promise<{ object?: WireObject; unfinished: boolean }> {
  const objects = await s.list<WireObject>(kind.collection);
  const unfinished = await kind.find(s, { ...news, name: unfinishedName(news.name) }, objects);
  return unfinished ? { object: unfinished, unfinished: true } : { object: await kind.find(s, news, objects), unfinished: false };
}

/**
 * Adopt by name or create; a create that failed in a way that may have landed is looked up again,
 * never re-sent blindly. A create posts the object under its unfinished name, then renames it.
 * `former` is set when the object was adopted: it existed before, made neither by a create of this
 * stack nor by another resource of this operation.
 */
async function createOrAdopt<I extends Connection>(s: Session, kind: Kind<I>, news: I): Promise<{ obj: WireObject; former?: Former }> {
  const claim = (id: number) => s.claimed.add(`${kind.collection}${id}`);
  let raced = false;
  for (let attempt = 1; ; attempt++) {
    const { object: existing, unfinished } = await located(s, kind, news);
    if (!existing) await kind.makeRoom?.(s, news);
    const body = await kind.toWire(s, news, undefined);
    try {
      if (existing) {
        const ours = unfinished || s.claimed.has(`${kind.collection}${existing.id}`);
        const obj = await s.write<WireObject>("PATCH", `${kind.collection}${existing.id}/`, body, kind.invalidates);
        claim(obj.id);
        return ours ? { obj } : { obj, former: formerValues(existing, body, kind.secrets) };
      }
      const made = await s.write<WireObject>("POST", kind.collection, { ...body, name: unfinishedName(news.name) }, kind.invalidates);
      claim(made.id);
      return { obj: await s.write<WireObject>("PATCH", `${kind.collection}${made.id}/`, { name: news.name }, kind.invalidates) };
    } catch (e) {
      if (existing || !isPaperlessApiError(e)) throw e;
      // Two resources ensuring one name in parallel (mailboxes sharing a tag): the loser gets a
      // uniqueness 400. If the name exists now, take the winner's; otherwise the 400 stands.
      if (e.status === 400 && !raced) {
        raced = true;
        if ((await located(s, kind, news)).object) continue;
      }
      if (!e.retryable || attempt > s.client.http.retries) throw e;
      await sleep(retryDelay(s.client.http, attempt, e.retryAfterMs));
    }
  }
}

/** Says on the CLI's output what a delete left on the server (the engine shows the plugin's stderr). */
function reportKept<I extends Connection>(kind: Kind<I>, olds: I, id: string, why: string): void {
  process.stderr.write(`paperless-ngx: left ${kind.label} ${JSON.stringify(olds.name)} (id ${id}) on ${olds.url} in place: ${why}\n`);
}

/** Hands an adopted object back: the fields this stack changed get their former values again. */
async function handBack<I extends Connection>(s: Session, kind: Kind<I>, id: string, olds: I, former: Former): Promise<void> {
  if (!(await s.list<WireObject>(kind.collection)).some((o) => String(o.id) === id)) return; // gone already: nothing left
  const fields = Object.keys(former);
  if (fields.length) await s.write("PATCH", `${kind.collection}${id}/`, former, kind.invalidates);
  const restored = fields.length ? `; the values it had then are put back (${fields.join(", ")})` : "";
  const secret = kind.secrets.length
    ? `; its ${kind.secrets.join(", ")} stays the one this stack set (paperless never shows the former one)`
    : "";
  reportKept(kind, olds, id, `this stack adopted it (it existed before, found by name)${restored}${secret}`);
}

/**
 * The API token, read at call time: the stack config the engine hands to `configure` (the default
 * provider's, so `paperless-mail-ingest:paperlessToken`), else the environment. Never an input:
 * a rotated token is no diff, and no operation needs one from the state.
 */
export type Credentials = ReturnType<typeof credentials>;

export function credentials() {
  // In the process memory, like the sessions: the token `configure` got serves every kind's
  // provider for the rest of the operation.
  const configured = () => remembered<{ token?: string }>("paperless token", () => ({}));
  return {
    configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
      const token = req.config.get(TOKEN_CONFIG_KEY);
      if (token) configured().token = token;
      return Promise.resolve();
    },
    current(): TokenSource | undefined {
      const token = configured().token;
      if (token) return { token, fromEnv: false };
      const env = process.env[TOKEN_ENV];
      return env ? { token: env, fromEnv: true } : undefined;
    },
    require(): TokenSource {
      const found = this.current();
      if (!found) {
        throw new Error(
          `no paperless-ngx API token: set one with \`pulumi config set --secret paperlessToken <token>\` or export ${TOKEN_ENV}`,
        );
      }
      return found;
    },
  };
}

export function makeProvider<I extends Connection>(kind: Kind<I>): pulumi.dynamic.ResourceProvider {
  const creds = credentials();
  const withSession = <T>(inputs: I, action: (s: Session) => Promise<T>): Promise<T> =>
    withSuperuserSession(
      creds,
      `${kind.label} ${JSON.stringify(inputs.name)}`,
      inputs.url,
      kind.secrets.map((f) => (inputs as Record<string, unknown>)[f]),
      action,
    );
  return {
    configure: (req) => creds.configure(req),

    async check(_olds: I, news: I) {
      const failures = [...validateFields(kind, news as unknown as Record<string, unknown>), ...(kind.validate?.(news) ?? [])];
      // Valid inputs are checked against the server too: the token first (withSession), for every kind.
      if (!failures.length && !isUnknown(news.url)) {
        failures.push(...(await withSession(news, async (s) => (kind.checkRemote ? kind.checkRemote(s, news) : []))));
      }
      return { inputs: news, failures };
    },

    async diff(id: string, olds: I, news: I) {
      const { changed, replaces } = changedFields(kind, olds, news);
      // The object lives on one server: moving it means delete there, then create (or adopt) here.
      // Otherwise updates are PATCHes in place, so the id is known at preview.
      const replacing = replaces.length > 0;
      // What was changed or deleted by hand shows on a plain preview, and up puts it back.
      const live =
        replacing || isUnknown(news.url) ? [] : await withSession(news, (s) => handChanges(s, kind, id, olds, news, changed.length > 0));
      // The engine shows the plugin's stderr: the diff itself cannot name fields the config did not change.
      const what = `paperless-ngx: ${kind.label} ${JSON.stringify(news.name)} (id ${id}) on ${news.url}`;
      if (live === "gone") {
        process.stderr.write(`${what} is gone (deleted by hand?): up creates it again\n`);
        return { changes: true, replaces: ["paperlessId"], stables: [], deleteBeforeReplace: false };
      }
      if (live.length)
        process.stderr.write(`${what} was changed outside this stack (${live.join(", ")}): up writes the declared values back\n`);
      return {
        changes: changed.length > 0 || live.length > 0 || replacing,
        replaces,
        stables: replacing ? [] : ["paperlessId"],
        deleteBeforeReplace: replacing,
      };
    },

    async create(news: I) {
      return withSession(news, async (s) => {
        const { obj, former } = await createOrAdopt(s, kind, news);
        return { id: String(obj.id), outs: outputs(kind, news, obj.id, former) };
      });
    },

    async read(id: string, olds: Outputs<I>) {
      return withSession(olds, async (s) => {
        // One memoized list serves every resource of the refresh (request budget).
        const obj = (await s.list<WireObject>(kind.collection)).find((o) => String(o.id) === id);
        if (!obj) return { id: "", props: {} }; // gone: refresh drops it from the state
        const current = await kind.fromWire(s, obj, olds);
        return { id, props: { ...outputs(kind, olds, obj.id, olds.adopted), ...current } };
      });
    },

    async update(id: string, olds: Outputs<I>, news: I) {
      return withSession(news, async (s) => {
        const body = await kind.toWire(s, news, olds);
        // On an adopted object, a field's first change is one more value to put back at destroy.
        const current = olds.adopted && (await s.list<WireObject>(kind.collection)).find((o) => String(o.id) === id);
        const adopted = olds.adopted && formerValues(current ?? {}, body, kind.secrets, olds.adopted);
        await kind.makeRoom?.(s, news, id);
        try {
          await s.write("PATCH", `${kind.collection}${id}/`, body, kind.invalidates);
        } catch (e) {
          if (notFound(e))
            throw new Error(`id ${id} no longer exists on ${news.url}; run \`pulumi refresh\` to forget it, then \`pulumi up\``);
          throw e;
        }
        return { outs: outputs(kind, news, Number(id), adopted) };
      });
    },

    async delete(id: string, olds: Outputs<I>) {
      await withSession(olds, async (s) => {
        // A resource created in this same operation adopted this object (a sender's new address under
        // the same rule name: new resource created, old one deleted afterwards). It is no longer ours.
        if (s.claimed.has(`${kind.collection}${id}`)) return;
        try {
          // Never delete what the stack did not create: an adopted object is handed back instead.
          if (olds.adopted) return await handBack(s, kind, id, olds, olds.adopted);
          const why = await kind.keptBecause?.(s, id, olds);
          if (why) return reportKept(kind, olds, id, why);
          await s.write("DELETE", `${kind.collection}${id}/`, undefined, kind.invalidates);
        } catch (e) {
          // Already gone: deleted by hand, or with its mail account (docs/paperless-api.md#objects).
          if (!notFound(e)) throw e;
        }
      });
    },
  };
}

export const mailAccountProvider = makeProvider(accountKind);
export const mailRuleProvider = makeProvider(ruleKind);
export const tagProvider = makeProvider(tagKind);
