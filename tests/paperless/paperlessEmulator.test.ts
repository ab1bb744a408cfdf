// The emulator against the contract, with raw HTTP: if it drifted from paperless, every provider
// test built on it would prove nothing.
import { startPaperlessEmulator, type PaperlessEmulator, type PaperlessMode } from "./paperlessEmulator";

let emu: PaperlessEmulator;
afterEach(() => emu.close());

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(emu.url + path, {
    method,
    headers: { Authorization: `Token ${emu.token}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

const start = async (mode: PaperlessMode = "3.x") => { emu = await startPaperlessEmulator({ mode, users: ["anca"] }); };

async function seedAccount(name = "docs@example.com") {
  const r = await api("POST", "/api/mail_accounts/", { name, imap_server: "imap", username: "u", password: "secret-pw" });
  expect(r.status).toBe(201);
  return r.body as { id: number };
}

test("§3 Auth: 401 without a token or with a wrong one", async () => {
  await start();
  expect((await api("GET", "/api/tags/", undefined, { Authorization: "" })).body).toEqual({ detail: "Authentication credentials were not provided." });
  const wrong = await api("GET", "/api/tags/", undefined, { Authorization: "Token nope" });
  expect([wrong.status, wrong.body]).toEqual([401, { detail: "Invalid token." }]);
});

test.each([["3.x", "10", "3.0.5", ["9", "10"], "8"], ["2.x", "9", "2.20.15", ["1", "9"], "10"]] as const)(
  "§3 Versioning on %s: announces %s, accepts its versions, 406 otherwise",
  async (mode, max, server, ok, bad) => {
    await start(mode);
    const r = await api("GET", "/api/tags/");
    expect([r.headers.get("x-api-version"), r.headers.get("x-version")]).toEqual([max, server]);
    for (const v of ok) expect((await api("GET", "/api/tags/", undefined, { Accept: `application/json; version=${v}` })).status).toBe(200);
    const rejected = await api("GET", "/api/tags/", undefined, { Accept: `application/json; version=${bad}` });
    expect([rejected.status, rejected.body]).toEqual([406, { detail: "Invalid version in \"Accept\" header." }]);
  });

test("§3 Pagination: default 25, page_size up to 100000, next/previous/count, `all` below version 10", async () => {
  await start();
  for (let i = 0; i < 30; i++) emu.addTag(`t${i}`);
  const first = await api("GET", "/api/tags/");
  expect([first.body.count, first.body.results.length, first.body.previous]).toEqual([30, 25, null]);
  expect(first.body).not.toHaveProperty("all");
  const second = await fetch(first.body.next, { headers: { Authorization: `Token ${emu.token}` } })
    .then((r) => r.json() as Promise<{ results: unknown[]; next: string | null; previous: string | null }>);
  expect([second.results.length, second.next, typeof second.previous]).toEqual([5, null, "string"]);
  expect((await api("GET", "/api/tags/?page_size=500000")).body.results).toHaveLength(30);
  expect((await api("GET", "/api/tags/?page=3")).status).toBe(404);
  const v9 = await api("GET", "/api/tags/?page_size=2", undefined, { Accept: "application/json; version=9" });
  expect(v9.body.all).toHaveLength(30);
});

test("§2 passwords are masked on read and an all-* password is ignored on update", async () => {
  await start();
  const { id } = await seedAccount();
  expect((await api("GET", `/api/mail_accounts/${id}/`)).body.password).toBe("**********");
  await api("PATCH", `/api/mail_accounts/${id}/`, { password: "a-much-longer-password" });
  expect((await api("GET", `/api/mail_accounts/${id}/`)).body.password).toBe("*".repeat(22));
  await api("PATCH", `/api/mail_accounts/${id}/`, { password: "**********" });
  expect(emu.passwords.get(id)).toBe("a-much-longer-password");
});

test("§1/§2 unique names: accounts globally, rules per owner", async () => {
  await start();
  const { id } = await seedAccount();
  expect((await api("POST", "/api/mail_accounts/", { name: "docs@example.com", imap_server: "i", username: "u", password: "p" })).body)
    .toEqual({ name: ["mail account with this name already exists."] });
  const anca = emu.user("anca").id;
  expect((await api("POST", "/api/mail_rules/", { name: "r", account: id, owner: anca })).status).toBe(201);
  expect((await api("POST", "/api/mail_rules/", { name: "r", account: id })).status).toBe(201); // owner := admin
  expect((await api("POST", "/api/mail_rules/", { name: "r", account: id, owner: anca })).body)
    .toEqual({ non_field_errors: ["The fields name, owner must make a unique set."] });
});

test("§2 validation: action_parameter for MOVE/TAG, choices, required account, maximum_age", async () => {
  await start();
  const { id } = await seedAccount();
  expect((await api("POST", "/api/mail_rules/", { name: "r", account: id, action: 2 })).body).toEqual({ non_field_errors: ["An action parameter is required."] });
  expect((await api("POST", "/api/mail_rules/", { name: "r", account: id, action: 9 })).body).toEqual({ action: ["\"9\" is not a valid choice."] });
  expect((await api("POST", "/api/mail_rules/", { name: "r" })).body).toEqual({ account: ["This field is required."] });
  expect((await api("POST", "/api/mail_rules/", { name: "r", account: 999 })).body).toEqual({ account: ["Invalid pk \"999\" - object does not exist."] });
  expect((await api("POST", "/api/mail_rules/", { name: "r", account: id, maximum_age: 36501 })).body).toEqual({ maximum_age: ["Maximum mail age is unreasonably large."] });
  const r = await api("POST", "/api/mail_rules/", { name: "r", account: id, action: 2, action_parameter: "Processed" });
  // a PATCH sending action without its parameter fails; one without action does not look
  expect((await api("PATCH", `/api/mail_rules/${r.body.id}/`, { action: 5 })).status).toBe(400);
  expect((await api("PATCH", `/api/mail_rules/${r.body.id}/`, { folder: "X" })).status).toBe(200);
});

test("§1 stop_processing exists on 3.x only; §2 owner defaults; account delete cascades; 404s", async () => {
  await start("2.x");
  const { id } = await seedAccount();
  const r = await api("POST", "/api/mail_rules/", { name: "r", account: id, stop_processing: true, owner: null });
  expect(r.body).not.toHaveProperty("stop_processing");
  expect(r.body.owner).toBeNull();
  expect((await api("DELETE", `/api/mail_accounts/${id}/`)).status).toBe(204);
  expect((await api("GET", `/api/mail_rules/${r.body.id}/`)).status).toBe(404);
  expect((await api("DELETE", `/api/mail_rules/${r.body.id}/`)).status).toBe(404);
  await emu.close();
  await start("3.x");
  const a = await seedAccount();
  expect((await api("POST", "/api/mail_rules/", { name: "r", account: a.id, stop_processing: true })).body)
    .toMatchObject({ stop_processing: true, owner: emu.user("admin").id });
});

test("§3 users and tags filters; documents per tag", async () => {
  await start();
  emu.addUser("consumer");
  expect((await api("GET", "/api/users/?username__iexact=ANCA")).body.results.map((u: { username: string }) => u.username)).toEqual(["anca"]);
  expect((await api("GET", "/api/users/")).body.results.map((u: { username: string }) => u.username)).toEqual(["admin", "anca"]);
  const t = emu.addTag("Email-Ingest");
  emu.addTag("other");
  expect((await api("GET", "/api/tags/?name__iexact=email-ingest")).body.results.map((x: { id: number }) => x.id)).toEqual([t.id]);
  emu.addDocument("a.pdf", [t.id]);
  expect((await api("GET", `/api/documents/?tags__id__all=${t.id}`)).body.count).toBe(1);
  expect((await api("GET", `/api/tags/${t.id}/`)).body.document_count).toBe(1);
});

test("faults: 5xx, 429, slow and dropped responses, counted per endpoint", async () => {
  await start();
  emu.fault({ kind: "5xx", times: 1, path: /tags/ });
  emu.fault({ kind: "429", times: 1, path: /tags/ });
  expect((await api("GET", "/api/tags/")).status).toBe(503);
  const throttled = await api("GET", "/api/tags/");
  expect([throttled.status, throttled.headers.get("retry-after")]).toEqual([429, "0"]);
  emu.fault({ kind: "slow", times: 1, delayMs: 150 });
  const t0 = Date.now();
  expect((await api("GET", "/api/tags/")).status).toBe(200);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  emu.fault({ kind: "drop", times: 1, method: "POST", landed: true });
  await expect(api("POST", "/api/tags/", { name: "x" })).rejects.toThrow();
  expect(emu.tags.map((t) => t.name)).toEqual(["x"]); // it landed
  expect(emu.count("GET /api/tags/")).toBe(3);
  expect(emu.count("POST /api/tags/")).toBe(1);
});

test("§2/§3 owner rules for a token that is not a superuser: sees owned and unowned objects only", async () => {
  emu = await startPaperlessEmulator({ superuser: false, users: ["anca"] });
  const { id } = await seedAccount();
  const anca = emu.user("anca").id;
  const mine = (await api("POST", "/api/mail_rules/", { name: "mine", account: id })).body;
  const unowned = (await api("POST", "/api/mail_rules/", { name: "shared", account: id, owner: null })).body;
  const hers = emu.addRule({ name: "hers", account: id, owner: anca });
  expect((await api("GET", "/api/mail_rules/")).body.results.map((r: { name: string }) => r.name).sort()).toEqual(["mine", "shared"]);
  expect((await api("GET", `/api/mail_rules/${hers.id}/`)).status).toBe(404);
  expect((await api("PATCH", `/api/mail_rules/${unowned.id}/`, { owner: anca })).status).toBe(200); // unowned: anyone may set it
  expect((await api("PATCH", `/api/mail_rules/${mine.id}/`, { owner: anca })).status).toBe(200); // the owner may give it away
  // once given away it is out of sight, so it cannot be taken back
  expect((await api("PATCH", `/api/mail_rules/${mine.id}/`, { owner: emu.user("admin").id })).status).toBe(404);
});
