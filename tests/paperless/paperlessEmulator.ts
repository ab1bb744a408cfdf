// An emulator of the part of the paperless-ngx REST API the provider uses: mail accounts, mail
// rules, users, tags and documents-per-tag, over real HTTP on 127.0.0.1. Every rule it enforces
// cites shared/contracts/paperless-api.md (§n). Faults can be switched on to test the client.
import * as http from "node:http";
import type { AddressInfo } from "node:net";

export type PaperlessMode = "2.x" | "3.x";

export interface EmulatorUser { id: number; username: string; is_superuser: boolean }
export interface EmulatorTag { id: number; name: string; owner: number | null }
export interface EmulatorDocument { id: number; title: string; tags: number[]; owner: number | null }
export type Row = Record<string, unknown> & { id: number; owner: number | null };

/** A switchable fault. `times` requests matching `method`/`path` (a RegExp on the path) get it. */
export interface Fault {
  kind: "5xx" | "slow" | "drop" | "429";
  times: number;
  method?: string;
  path?: RegExp;
  /** slow: the request is processed, then the response waits this long (the client may time out after it landed). */
  delayMs?: number;
  /** drop: process the request before dropping the connection (a write that landed), or drop it unprocessed. */
  landed?: boolean;
}

export interface EmulatorOptions {
  mode?: PaperlessMode;
  /** The API token; requests without it get 401 (§3 Auth). */
  token?: string;
  /** Users besides the token's user `admin`; ids are spread out so nothing can rely on them being 1..n. */
  users?: string[];
  /** Whether the token's user `admin` is a superuser (default true); if not, it sees only what it may (§2, §3 Viewsets). */
  superuser?: boolean;
  /** Origin used in `next`/`previous` links, as when paperless sits behind a proxy that sends no forwarded headers. */
  linkOrigin?: string;
}

const PAGE_SIZE = 25; // §3 Pagination: StandardPagination page_size
const MAX_PAGE_SIZE = 100_000;

// §1 enums (choice fields reject other values, §2 Validation).
const CHOICES: Record<string, number[]> = {
  imap_security: [1, 2, 3], account_type: [1, 2, 3],
  action: [1, 2, 3, 4, 5], attachment_type: [1, 2], consumption_scope: [1, 2, 3], pdf_layout: [0, 1, 2, 3, 4],
  assign_title_from: [1, 2, 3], assign_correspondent_from: [1, 2, 3, 4],
};

// §1 MailAccount / MailRule fields and defaults.
const ACCOUNT_DEFAULTS = { imap_port: null, imap_security: 2, is_token: false, character_set: "UTF-8", account_type: 1, expiration: null };
const RULE_DEFAULTS = {
  order: 0, enabled: true, folder: "INBOX", filter_from: null, filter_to: null, filter_subject: null, filter_body: null,
  filter_attachment_filename_include: null, filter_attachment_filename_exclude: null, maximum_age: 30,
  attachment_type: 1, consumption_scope: 1, pdf_layout: 0, action: 3, action_parameter: "", assign_title_from: 1,
  assign_tags: [] as number[], assign_document_type: null, assign_correspondent_from: 1, assign_correspondent: null,
  assign_owner_from_rule: true,
};
const CHAR_FIELDS_256 = ["name", "imap_server", "username", "character_set", "folder", "filter_from", "filter_to",
  "filter_subject", "filter_body", "filter_attachment_filename_include", "filter_attachment_filename_exclude", "action_parameter"];

class HttpError extends Error {
  constructor(readonly status: number, readonly body: unknown) { super(`HTTP ${status}`); }
}
const invalid = (body: Record<string, unknown>) => new HttpError(400, body);
const notFound = () => new HttpError(404, { detail: "No object matches the given query." }); // §3 Error shapes

export class PaperlessEmulator {
  readonly token: string;
  readonly mode: PaperlessMode;
  readonly users: EmulatorUser[] = [];
  readonly tags: EmulatorTag[] = [];
  readonly documents: EmulatorDocument[] = [];
  readonly accounts: Row[] = [];
  readonly rules: Row[] = [];
  /** Stored account passwords (never returned by the API, §2). */
  readonly passwords = new Map<number, string>();
  /** Requests per `METHOD /api/<collection>/` or `METHOD /api/<collection>/{id}/`. */
  readonly counters = new Map<string, number>();
  /** Bodies of writes, in order (for asserting what the client sent). */
  readonly writes: { method: string; path: string; body: Record<string, unknown> }[] = [];
  private faults: Fault[] = [];
  private nextId = 1;
  private readonly linkOrigin: string | undefined;
  private server!: http.Server;
  url = "";

  constructor(opts: EmulatorOptions = {}) {
    this.mode = opts.mode ?? "3.x";
    this.token = opts.token ?? "emulator-token-0123456789abcdef";
    this.linkOrigin = opts.linkOrigin;
    this.addUser("admin", opts.superuser ?? true);
    for (const u of opts.users ?? []) this.addUser(u);
  }

  // -- seeding and manual edits (what a person does in the paperless UI) -------------------------

  private id(): number {
    const id = this.nextId;
    this.nextId += 3; // ids differ from positions, as between real installations (design §1)
    return id;
  }

  addUser(username: string, superuser = false): EmulatorUser {
    const user = { id: this.id(), username, is_superuser: superuser };
    this.users.push(user);
    return user;
  }

  addTag(name: string, owner: number | null = null): EmulatorTag {
    const tag = { id: this.id(), name, owner };
    this.tags.push(tag);
    return tag;
  }

  addDocument(title: string, tags: number[]): EmulatorDocument {
    const doc = { id: this.id(), title, tags, owner: null };
    this.documents.push(doc);
    return doc;
  }

  user(username: string): EmulatorUser {
    const u = this.users.find((x) => x.username === username);
    if (!u) throw new Error(`emulator: no user ${username}`);
    return u;
  }

  /** Insert an account as if made by hand (no validation, like the Django admin). */
  addAccount(fields: Record<string, unknown> & { name: string; password: string }): Row {
    const { password, ...rest } = fields;
    const row: Row = { ...ACCOUNT_DEFAULTS, imap_server: "imap.example", username: "u", owner: this.user("admin").id, ...rest, id: this.id() };
    this.accounts.push(row);
    this.passwords.set(row.id, password);
    return row;
  }

  addRule(fields: Record<string, unknown> & { name: string; account: number }): Row {
    const row: Row = { ...RULE_DEFAULTS, ...(this.mode === "3.x" ? { stop_processing: false } : {}), owner: this.user("admin").id, ...fields, id: this.id() };
    this.rules.push(row);
    return row;
  }

  // -- faults and counters ---------------------------------------------------------------------

  fault(f: Fault): void {
    this.faults.push({ ...f });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** Requests made to a route key such as `GET /api/mail_rules/` (or the sum over all keys starting with a prefix). */
  count(key: string): number {
    let n = 0;
    for (const [k, v] of this.counters) if (k === key || (key.endsWith("*") && k.startsWith(key.slice(0, -1)))) n += v;
    return n;
  }

  resetCounters(): void {
    this.counters.clear();
    this.writes.length = 0;
  }

  // -- server ------------------------------------------------------------------------------------

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => { void this.handle(req, res); });
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private takeFault(method: string, path: string): Fault | undefined {
    const f = this.faults.find((x) => x.times > 0 && (!x.method || x.method === method) && (!x.path || x.path.test(path)));
    if (f) f.times--;
    return f;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    const method = req.method ?? "GET";
    const route = url.pathname.replace(/\/\d+\/$/, "/{id}/");
    this.counters.set(`${method} ${route}`, (this.counters.get(`${method} ${route}`) ?? 0) + 1);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const fault = this.takeFault(method, url.pathname);
    if (fault?.kind === "drop" && !fault.landed) return void req.socket.destroy();
    if (fault?.kind === "5xx") return this.send(res, 503, { detail: "Service Unavailable (emulated)" });
    if (fault?.kind === "429") {
      res.setHeader("Retry-After", "0");
      return this.send(res, 429, { detail: "Request was throttled. Expected available in 0 seconds." });
    }
    let status: number;
    let body: unknown;
    try {
      [status, body] = this.dispatch(method, url, req.headers, Buffer.concat(chunks).toString("utf8"), res);
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      [status, body] = [e.status, e.body];
    }
    if (fault?.kind === "drop") return void req.socket.destroy(); // landed, but the client never hears
    if (fault?.kind === "slow") await new Promise((r) => setTimeout(r, fault.delayMs ?? 1000));
    this.send(res, status, body);
  }

  private send(res: http.ServerResponse, status: number, body: unknown): void {
    if (res.destroyed) return;
    res.statusCode = status;
    if (body === undefined) return void res.end();
    res.setHeader("Content-Type", "application/json");
    res.end(JSON.stringify(body));
  }

  /** §3 Versioning: 3.x allows 9 and 10 (default 10); 2.20 allows 1..9 (default 9). */
  private allowedVersions(): string[] {
    return this.mode === "3.x" ? ["9", "10"] : ["1", "2", "3", "4", "5", "6", "7", "8", "9"];
  }

  private dispatch(method: string, url: URL, headers: http.IncomingHttpHeaders, raw: string, res: http.ServerResponse): [number, unknown] {
    // §3 Auth: `Authorization: Token <token>`; 401 without it or with a wrong one.
    const auth = headers.authorization;
    if (!auth) throw new HttpError(401, { detail: "Authentication credentials were not provided." });
    if (auth !== `Token ${this.token}`) throw new HttpError(401, { detail: "Invalid token." });
    // §3 Versioning: an unsupported `version=` in Accept is 406.
    const allowed = this.allowedVersions();
    const asked = /version=([^;,\s]+)/.exec(headers.accept ?? "")?.[1];
    if (asked !== undefined && !allowed.includes(asked)) throw new HttpError(406, { detail: "Invalid version in \"Accept\" header." });
    const version = Number(asked ?? allowed[allowed.length - 1]);
    // §3: every authenticated response carries the highest allowed version and the server version.
    res.setHeader("X-Api-Version", allowed[allowed.length - 1]!);
    res.setHeader("X-Version", this.mode === "3.x" ? "3.0.5" : "2.20.15");

    const m = /^\/api\/(mail_accounts|mail_rules|users|tags|documents)\/(?:(\d+)\/)?$/.exec(url.pathname);
    if (!m) throw notFound(); // §3 Router: trailing slash required
    const [, collection, idText] = m as unknown as [string, string, string | undefined];
    const id = idText === undefined ? undefined : Number(idText);
    let body: Record<string, unknown> = {};
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        throw invalid({ detail: "JSON parse error" });
      }
    }
    const admin = this.user("admin");
    // §3 Viewsets: a superuser sees everything; others see owned and unowned objects. Hidden = 404.
    const visible = (r: { owner: number | null }) => admin.is_superuser || r.owner === null || r.owner === admin.id;

    if (collection === "users" || collection === "documents") {
      if (method !== "GET" || id !== undefined) throw new HttpError(405, { detail: `Method "${method}" not allowed.` });
      return [200, this.page(url, version, collection === "users" ? this.userRows(url) : this.documentRows(url))];
    }
    const table = collection === "mail_accounts" ? this.accounts : collection === "mail_rules" ? this.rules : null;
    if (id === undefined) {
      if (method === "GET") return [200, this.page(url, version, this.list(collection, url).filter(visible))];
      if (method === "POST") {
        this.writes.push({ method, path: url.pathname, body });
        return [201, this.present(collection, this.create(collection, body, admin.id))];
      }
      throw new HttpError(405, { detail: `Method "${method}" not allowed.` });
    }
    const row = (table ?? (this.tags as unknown as Row[])).find((r) => r.id === id);
    if (!row || !visible(row)) throw notFound(); // §3 Error shapes: any 404 means gone
    if (method === "GET") return [200, this.present(collection, row)];
    if (method === "PATCH" || method === "PUT") {
      this.writes.push({ method, path: url.pathname, body });
      return [200, this.present(collection, this.update(collection, row, body, method === "PATCH"))];
    }
    if (method === "DELETE") {
      this.writes.push({ method, path: url.pathname, body });
      this.remove(collection, row);
      return [204, undefined]; // §3: 204 on DELETE
    }
    throw new HttpError(405, { detail: `Method "${method}" not allowed.` });
  }

  // -- lists and pagination ----------------------------------------------------------------------

  /** §3 Pagination: page_size (default 25, max 100000), page, next/previous/count; `all` below version 10. */
  private page(url: URL, version: number, rows: { id: number }[]): Record<string, unknown> {
    const size = Math.min(Number(url.searchParams.get("page_size") ?? PAGE_SIZE) || PAGE_SIZE, MAX_PAGE_SIZE);
    const pageNo = Number(url.searchParams.get("page") ?? 1);
    const pages = Math.max(1, Math.ceil(rows.length / size));
    if (!Number.isInteger(pageNo) || pageNo < 1 || pageNo > pages) throw new HttpError(404, { detail: "Invalid page." });
    const link = (n: number) => {
      const u = new URL(url.pathname + url.search, this.linkOrigin ?? this.url);
      u.searchParams.set("page", String(n));
      return u.toString();
    };
    return {
      count: rows.length,
      next: pageNo < pages ? link(pageNo + 1) : null,
      previous: pageNo > 1 ? link(pageNo - 1) : null,
      ...(version < 10 ? { all: rows.map((r) => r.id) } : {}),
      results: rows.slice((pageNo - 1) * size, pageNo * size),
    };
  }

  private list(collection: string, url: URL): Row[] {
    // §1: viewsets order accounts by pk and rules by `order` (ties: pk here, undefined in paperless).
    if (collection === "mail_accounts") return this.accounts.map((r) => this.present(collection, r));
    if (collection === "mail_rules") {
      return [...this.rules].sort((a, b) => (a.order as number) - (b.order as number) || a.id - b.id).map((r) => this.present(collection, r));
    }
    // §3 Users and tags: TagFilterSet name__iexact.
    const iexact = url.searchParams.get("name__iexact");
    return this.tags.filter((t) => iexact === null || t.name.toLowerCase() === iexact.toLowerCase()).map((t) => this.present("tags", t as unknown as Row));
  }

  /** §3 Users and tags: UserFilterSet username__iexact; `consumer` and AnonymousUser are never listed. */
  private userRows(url: URL): Row[] {
    const iexact = url.searchParams.get("username__iexact");
    return this.users
      .filter((u) => u.username !== "consumer" && u.username !== "AnonymousUser")
      .filter((u) => iexact === null || u.username.toLowerCase() === iexact.toLowerCase())
      .map((u) => ({ ...u, owner: null, email: "", password: "**********", is_staff: u.is_superuser, is_active: true }));
  }

  /** Documents carrying every tag in `tags__id__all` (a comma-separated id list). */
  private documentRows(url: URL): Row[] {
    const all = (url.searchParams.get("tags__id__all") ?? "").split(",").filter(Boolean).map(Number);
    return this.documents.filter((d) => all.every((t) => d.tags.includes(t))) as unknown as Row[];
  }

  /** What a read returns: §2 password masking; stop_processing only on 3.x (§1); tag document_count. */
  private present(collection: string, row: Row): Row {
    if (collection === "mail_accounts") {
      const pw = this.passwords.get(row.id) ?? "";
      return { ...row, password: "*".repeat(Math.max(10, pw.length)), user_can_change: true };
    }
    if (collection === "tags") {
      return { ...row, color: "#a6cee3", match: "", matching_algorithm: 1, is_insensitive: true, is_inbox_tag: false,
        document_count: this.documents.filter((d) => d.tags.includes(row.id)).length, user_can_change: true };
    }
    return { ...row, assign_tags: [...(row.assign_tags as number[])], user_can_change: true };
  }

  // -- writes ------------------------------------------------------------------------------------

  private create(collection: string, body: Record<string, unknown>, requester: number): Row {
    // §2 Ownership: no `owner` key → the requesting user; explicit null → unowned.
    const owner = "owner" in body ? this.ownerField(body.owner) : requester;
    if (collection === "tags") {
      this.requireText(body, ["name"]);
      if (this.tags.some((t) => t.name === body.name && t.owner === owner)) {
        throw invalid({ non_field_errors: ["The fields name, owner must make a unique set."] });
      }
      return this.addTag(body.name as string, owner) as unknown as Row;
    }
    if (collection === "mail_accounts") {
      // §2 MailAccountSerializer: name, imap_server, username, password required; name globally unique.
      this.requireText(body, ["name", "imap_server", "username", "password"]);
      const fields = this.accountFields(body, undefined);
      const row: Row = { ...ACCOUNT_DEFAULTS, ...fields, owner, id: this.id() };
      this.accounts.push(row);
      this.passwords.set(row.id, body.password as string);
      return row;
    }
    this.requireText(body, ["name"]);
    if (!("account" in body)) throw invalid({ account: ["This field is required."] }); // §2: account required
    const fields = this.ruleFields(body, undefined, owner);
    const row: Row = { ...RULE_DEFAULTS, ...(this.mode === "3.x" ? { stop_processing: false } : {}), ...fields, owner, id: this.id() };
    this.rules.push(row);
    return row;
  }

  private update(collection: string, row: Row, body: Record<string, unknown>, partial: boolean): Row {
    // §2 Ownership: only a superuser, the current owner or anyone on an unowned object may change
    // the owner — exactly the objects `visible` lets through (object-level grants are not emulated).
    // §2 Ownership caveat: a PUT without `owner` makes a rule unowned (DRF default=None).
    const owner = "owner" in body ? this.ownerField(body.owner) : partial || collection !== "mail_rules" ? row.owner : null;
    if (collection === "tags") {
      if ("name" in body) this.requireText(body, ["name"]);
      Object.assign(row, "name" in body ? { name: body.name } : {}, { owner });
      return row;
    }
    if (collection === "mail_accounts") {
      if (!partial) this.requireText(body, ["name", "imap_server", "username", "password"]);
      Object.assign(row, this.accountFields(body, row.id), { owner });
      // §2 Update rule: a password of only `*` is dropped (the stored one is kept).
      if (typeof body.password === "string" && !/^\*+$/.test(body.password)) this.passwords.set(row.id, body.password);
      return row;
    }
    if (!partial) this.requireText(body, ["name"]);
    Object.assign(row, this.ruleFields(body, row, owner), { owner });
    return row;
  }

  private remove(collection: string, row: Row): void {
    if (collection === "mail_accounts") {
      this.accounts.splice(this.accounts.indexOf(row), 1);
      this.passwords.delete(row.id);
      // §1 MailRule.account: CASCADE — deleting an account deletes its rules.
      for (const r of this.rules.filter((x) => x.account === row.id)) this.rules.splice(this.rules.indexOf(r), 1);
    } else if (collection === "mail_rules") {
      this.rules.splice(this.rules.indexOf(row), 1);
    } else {
      this.tags.splice(this.tags.indexOf(row as unknown as EmulatorTag), 1);
      // M2M: the tag leaves every rule's assign_tags and every document.
      for (const r of this.rules) r.assign_tags = (r.assign_tags as number[]).filter((t) => t !== row.id);
      for (const d of this.documents) d.tags = d.tags.filter((t) => t !== row.id);
    }
  }

  private requireText(body: Record<string, unknown>, fields: string[]): void {
    const errors: Record<string, string[]> = {};
    for (const f of fields) {
      if (!(f in body)) errors[f] = ["This field is required."];
      else if (typeof body[f] !== "string" || body[f] === "") errors[f] = ["This field may not be blank."];
    }
    if (Object.keys(errors).length) throw invalid(errors);
  }

  private ownerField(v: unknown): number | null {
    if (v === null) return null;
    if (!this.users.some((u) => u.id === v)) throw invalid({ owner: [`Invalid pk "${String(v)}" - object does not exist.`] });
    return v as number;
  }

  /** Field-level checks shared by accounts and rules (§2): choices, CharField(256), booleans, integers. */
  private commonChecks(body: Record<string, unknown>, errors: Record<string, string[]>): void {
    for (const [f, allowed] of Object.entries(CHOICES)) {
      if (f in body && !allowed.includes(body[f] as number)) errors[f] = [`"${String(body[f])}" is not a valid choice.`];
    }
    for (const f of CHAR_FIELDS_256) {
      if (typeof body[f] === "string" && (body[f] as string).length > 256) errors[f] = ["Ensure this field has no more than 256 characters."];
    }
  }

  private accountFields(body: Record<string, unknown>, selfId: number | undefined): Record<string, unknown> {
    const errors: Record<string, string[]> = {};
    this.commonChecks(body, errors);
    // §1/§2: account names are globally unique (UniqueValidator).
    if ("name" in body && this.accounts.some((a) => a.name === body.name && a.id !== selfId)) {
      errors.name = ["mail account with this name already exists."];
    }
    if ("imap_port" in body && body.imap_port !== null && !(Number.isInteger(body.imap_port) && (body.imap_port as number) >= 0)) {
      errors.imap_port = ["A valid integer is required."];
    }
    if (Object.keys(errors).length) throw invalid(errors);
    const keys = ["name", "imap_server", "imap_port", "imap_security", "username", "character_set", "is_token", "account_type"];
    return Object.fromEntries(keys.filter((k) => k in body).map((k) => [k, body[k]]));
  }

  private ruleFields(body: Record<string, unknown>, self: Row | undefined, owner: number | null): Record<string, unknown> {
    const errors: Record<string, string[]> = {};
    this.commonChecks(body, errors);
    // §2: unknown account → does_not_exist.
    if ("account" in body && !this.accounts.some((a) => a.id === body.account)) {
      errors.account = [`Invalid pk "${String(body.account)}" - object does not exist.`];
    }
    if ("assign_tags" in body) {
      const bad = (body.assign_tags as unknown[]).find((t) => !this.tags.some((x) => x.id === t));
      if (bad !== undefined) errors.assign_tags = [`Invalid pk "${String(bad)}" - object does not exist.`];
    }
    // §2 validate_maximum_age.
    if ("maximum_age" in body && (!Number.isInteger(body.maximum_age) || (body.maximum_age as number) < 0)) {
      errors.maximum_age = ["Ensure this value is greater than or equal to 0."];
    } else if ((body.maximum_age as number) > 36500) {
      errors.maximum_age = ["Maximum mail age is unreasonably large."];
    }
    // §2 order: smallint in 3.x.
    if ("order" in body && (!Number.isInteger(body.order) || (this.mode === "3.x" && Math.abs(body.order as number) > 32767))) {
      errors.order = ["Ensure this value is less than or equal to 32767."];
    }
    if (Object.keys(errors).length) throw invalid(errors);
    // §2 validate(): MOVE/TAG need action_parameter — judged on the submitted attrs only.
    if ((body.action === 2 || body.action === 5) && !body.action_parameter) {
      throw invalid({ non_field_errors: ["An action parameter is required."] });
    }
    // §1 MailRule constraints: UNIQUE(name, owner).
    const name = "name" in body ? body.name : self?.name;
    if (this.rules.some((r) => r !== self && r.name === name && r.owner === owner)) {
      throw invalid({ non_field_errors: ["The fields name, owner must make a unique set."] });
    }
    // §1: stop_processing is 3.x only; DRF drops fields its serializer does not declare.
    const keys = [...Object.keys(RULE_DEFAULTS), "name", "account", ...(this.mode === "3.x" ? ["stop_processing"] : [])];
    return Object.fromEntries(keys.filter((k) => k in body).map((k) => [k, body[k]]));
  }
}

/** Start an emulator on 127.0.0.1 and an ephemeral port. */
export function startPaperlessEmulator(opts: EmulatorOptions = {}): Promise<PaperlessEmulator> {
  return new PaperlessEmulator(opts).start();
}
