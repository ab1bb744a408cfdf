// Every provider method over loopback HTTP against the emulator: check, diff, create, read,
// update (PATCH), delete; adoption; faults; the request budget; secrets in errors and state.
import type { AccountInputs, RuleInputs, TagInputs } from "../../providers/paperless/provider";
import { accountKind, changedFields, mailAccountProvider, mailRuleProvider, SECRET_OUTPUTS, tagProvider } from "../../providers/paperless/provider";
import { clearSessions } from "../../providers/paperless/session";
import { prodConfig, prodUsers } from "../support/prodConfig";
import { startPaperlessEmulator, type PaperlessEmulator, type PaperlessMode } from "./paperlessEmulator";
import { mailboxResources, ProviderDriver } from "./providerDriver";
import { failure, fastHttp } from "./support";

fastHttp();

const PASSWORD = "mailbox-password-5678";
let emu: PaperlessEmulator;

async function start(mode: PaperlessMode = "3.x") {
  emu = await startPaperlessEmulator({ mode, users: prodUsers() });
}
beforeEach(async () => {
  clearSessions();
  await start();
});
afterEach(() => emu.close());

const account = (over: Partial<AccountInputs> = {}): AccountInputs => ({
  url: emu.url, token: emu.token, name: "docs@example.com", imap_server: "imap.example.com", imap_port: 993, imap_security: 2,
  username: "docs@example.com", character_set: "UTF-8", account_type: 1, is_token: false, password: PASSWORD, ...over,
});
const tag = (over: Partial<TagInputs> = {}): TagInputs => ({ url: emu.url, token: emu.token, name: "email-ingest", ...over });
const rule = (over: Partial<RuleInputs> = {}): RuleInputs => ({
  url: emu.url, token: emu.token, name: "forward: Anca", account: "docs@example.com", owner: "anca", order: 103, enabled: true,
  folder: "INBOX", filter_from: "anca@example.com", maximum_age: 30, action: 2, action_parameter: "Processed", assign_title_from: 1,
  assign_tags: ["email-ingest"], assign_owner_from_rule: true, attachment_type: 1, consumption_scope: 1, stop_processing: false, ...over,
});

/** Account and tag in place, as the rule's dependencies would be. */
async function dependencies(): Promise<{ accountId: number; tagId: number }> {
  const a = await mailAccountProvider.create!(account());
  const t = await tagProvider.create!(tag());
  return { accountId: Number(a.id), tagId: Number(t.id) };
}


describe("check", () => {
  test("accepts valid inputs and reports every invalid field by name and value", async () => {
    expect((await mailRuleProvider.check!({}, rule())).failures).toEqual([]);
    const bad = await mailRuleProvider.check!({}, { ...rule(), action: 9, maximum_age: "30", assign_tags: [""] } as unknown as RuleInputs);
    expect(bad.failures!.map((f) => f.property).sort()).toEqual(["action", "assign_tags", "maximum_age"]);
    expect(bad.failures!.find((f) => f.property === "action")!.reason).toBe("action 9 must be one of 1, 2, 3, 4, 5");
  });

  test("MOVE without a target folder fails at preview", async () => {
    const r = await mailRuleProvider.check!({}, rule({ action_parameter: "" }));
    expect(r.failures).toEqual([{ property: "action_parameter", reason: "action_parameter is required when action is 2 (MOVE/TAG)" }]);
  });

  test("an unknown owner is a preview error naming the user and the rule, and nothing is written", async () => {
    const r = await mailRuleProvider.check!({}, rule({ owner: "bob" }));
    expect(r.failures).toHaveLength(1);
    expect(r.failures![0]!.property).toBe("owner");
    expect(r.failures![0]!.reason).toMatch(/^mail rule "forward: Anca": owner: paperless user "bob" does not exist on http:\/\/127\.0\.0\.1:\d+ \(users: admin, root, anca, emo\); create the user in paperless-ngx or fix the sender's `user` in the stack config$/);
    expect(emu.writes).toEqual([]);
  });

  test("the owner is matched case-insensitively, like username__iexact, unless that is ambiguous", async () => {
    expect((await mailRuleProvider.check!({}, rule({ owner: "Anca" }))).failures).toEqual([]);
    emu.addUser("ANCA");
    clearSessions();
    expect((await mailRuleProvider.check!({}, rule({ owner: "anca" }))).failures).toEqual([]);
    expect((await mailRuleProvider.check!({}, rule({ owner: "Anca" }))).failures![0]!.reason)
      .toBe('mail rule "forward: Anca": owner: "Anca" matches several paperless users when case is ignored (anca, ANCA); write the username exactly');
  });

  test("unknown values at preview are not validated or looked up", async () => {
    const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
    const r = await mailAccountProvider.check!({}, account({ password: unknown, imap_port: unknown as unknown as number }));
    expect(r.failures).toEqual([]);
    emu.resetCounters();
    expect((await mailRuleProvider.check!({}, rule({ token: unknown }))).failures).toEqual([]);
    expect(emu.count("GET *")).toBe(0);
  });

  test("a bad token fails check with the server's answer and without the token", async () => {
    const e = await failure(mailRuleProvider.check!({}, rule({ token: "wrong-token-abcdef" })));
    expect(e.message).toMatch(/^mail rule "forward: Anca": Invalid token\. \(GET \/api\/mail_accounts\/\?page_size=1 → 401\); the API token was rejected: set a valid one with `pulumi config set --secret paperlessToken <token>` \(or PAPERLESS_API_TOKEN\)$/);
    expect(e.message + e.stack).not.toContain("wrong-token-abcdef");
  });

  test("a password failing validation is named but not shown", async () => {
    const r = await mailAccountProvider.check!({}, account({ password: "" }));
    expect(r.failures).toEqual([{ property: "password", reason: "password must be a non-empty string" }]);
  });
});

describe("diff", () => {
  test("reports exactly the changed fields; tag order does not count; url forces a delete-before-replace", async () => {
    const olds = { ...rule(), paperlessId: 1 };
    expect(await mailRuleProvider.diff!("1", olds, rule())).toEqual({ changes: false, replaces: [], stables: ["paperlessId"], deleteBeforeReplace: false });
    expect(changedFields(accountKind, account(), account({ password: "new", imap_port: 143 }))).toEqual({ changed: ["imap_port", "password"], replaces: [] });
    const twoTags = rule({ assign_tags: ["a", "b"] });
    expect(changedFields(accountKind, account(), account())).toEqual({ changed: [], replaces: [] });
    expect((await mailRuleProvider.diff!("1", twoTags, rule({ assign_tags: ["b", "a"] }))).changes).toBe(false);
    expect(await mailRuleProvider.diff!("1", olds, rule({ owner: "emo" }))).toEqual({ changes: true, replaces: [], stables: ["paperlessId"], deleteBeforeReplace: false });
    expect(await mailRuleProvider.diff!("1", olds, rule({ url: "http://elsewhere.example" }))).toEqual({ changes: true, replaces: ["url"], stables: [], deleteBeforeReplace: true });
    // A rotated token must reach the state (delete needs it), so it counts as a change.
    expect((await tagProvider.diff!("1", tag(), tag({ token: "rotated" }))).changes).toBe(true);
  });
});

describe("create", () => {
  test("creates the rule with ids resolved from names and owner sent explicitly", async () => {
    const { accountId, tagId } = await dependencies();
    const r = await mailRuleProvider.create!(rule());
    const row = emu.rules.find((x) => x.id === Number(r.id))!;
    expect(row).toMatchObject({ account: accountId, owner: emu.user("anca").id, assign_tags: [tagId], filter_from: "anca@example.com", stop_processing: false });
    expect(emu.writes.at(-1)!.body).toHaveProperty("owner", emu.user("anca").id);
    expect(r.outs).toEqual({ ...rule(), paperlessId: row.id });
  });

  test("on paperless 2.x, stop_processing is not sent", async () => {
    await emu.close();
    await start("2.x");
    await dependencies();
    await mailRuleProvider.create!(rule());
    expect(emu.writes.at(-1)!.body).not.toHaveProperty("stop_processing");
    expect(emu.writes.at(-1)!.path).toBe("/api/mail_rules/");
    // and read keeps the declared value, so 2.x shows no drift
    const id = String(emu.rules[0]!.id);
    clearSessions();
    const read = await mailRuleProvider.read!(id, { ...rule(), paperlessId: Number(id) });
    expect(read.props).toEqual({ ...rule(), paperlessId: Number(id) });
  });

  test("negotiates version 10 with 3.x and 9 with 2.x (both would 406 on the other's only version)", async () => {
    const versions: string[] = [];
    const realFetch = globalThis.fetch;
    const spy = jest.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
      versions.push(String((init?.headers as Record<string, string>).Accept));
      return realFetch(input, init);
    });
    try {
      await tagProvider.create!(tag());
      await emu.close();
      await start("2.x");
      clearSessions();
      await tagProvider.create!(tag());
    } finally {
      spy.mockRestore();
    }
    expect(versions.filter((v) => v.includes("version="))).toEqual([
      "application/json; version=10", "application/json; version=10",
      "application/json; version=9", "application/json; version=9",
    ]);
  });

  test("adopts an existing account and rule by name, bringing them to the declared state", async () => {
    const hand = emu.addAccount({ name: "docs@example.com", password: "old", imap_server: "old.example", imap_port: 143 });
    const t = emu.addTag("Email-Ingest", emu.user("root").id);
    const other = emu.addAccount({ name: "other@example.com", password: "x" });
    emu.addRule({ name: "forward: Anca", account: other.id, owner: emu.user("root").id }); // same name, other account and owner: left alone
    // made by root in the UI, so owned by root; same sender (filter_from compared case-insensitively)
    const handRule = emu.addRule({ name: "forward: Anca", account: hand.id, owner: emu.user("root").id, filter_from: "Anca@Example.com", action: 3 });

    const a = await mailAccountProvider.create!(account());
    const tg = await tagProvider.create!(tag());
    const r = await mailRuleProvider.create!(rule());
    expect([a.id, tg.id, r.id]).toEqual([String(hand.id), String(t.id), String(handRule.id)]);
    expect(emu.accounts).toHaveLength(2);
    expect(emu.tags).toHaveLength(1);
    expect(emu.rules).toHaveLength(2);
    expect(hand).toMatchObject({ imap_server: "imap.example.com", imap_port: 993 });
    expect(emu.passwords.get(hand.id)).toBe(PASSWORD);
    expect(t.name).toBe("email-ingest");
    expect(handRule).toMatchObject({ owner: emu.user("anca").id, filter_from: "anca@example.com", action: 2, action_parameter: "Processed", assign_tags: [t.id] });
    expect(emu.writes.map((w) => w.method)).toEqual(["PATCH", "PATCH", "PATCH"]);
  });

  test("two senders sharing a label under different owners get a rule each; neither takes the other's", async () => {
    const { accountId } = await dependencies();
    const roots = emu.addRule({ name: "forward: Viktor", account: accountId, owner: emu.user("root").id, filter_from: "v@example.com" });
    const [a, b] = await Promise.all([
      mailRuleProvider.create!(rule({ name: "forward: Viktor", owner: "root", filter_from: "v@example.com" })),
      mailRuleProvider.create!(rule({ name: "forward: Viktor", owner: "anca", filter_from: "v2@example.com" })),
    ]);
    expect(a.id).toBe(String(roots.id));
    expect(b.id).not.toBe(a.id);
    expect(emu.rules.map((r) => [r.filter_from, r.owner]).sort()).toEqual([["v2@example.com", emu.user("anca").id], ["v@example.com", emu.user("root").id]]);
  });

  test("a rule of the same name and owner on another account is a clear error, not a takeover", async () => {
    await dependencies();
    const other = emu.addAccount({ name: "other@example.com", password: "x" });
    const theirs = emu.addRule({ name: "forward: Anca", account: other.id, owner: emu.user("anca").id });
    const e = await failure(mailRuleProvider.create!(rule()));
    expect(e.message).toBe(`mail rule "forward: Anca": a rule with this name and owner "anca" already exists on another mail account (rule id ${theirs.id}, account id ${other.id}); rename or remove it`);
    expect(emu.rules).toHaveLength(1);
  });

  test("a permanent 4xx fails at once with the server's field error", async () => {
    await dependencies();
    emu.resetCounters();
    const e = await failure(mailRuleProvider.create!(rule({ maximum_age: 40000 })));
    expect(e.message).toBe('mail rule "forward: Anca": maximum_age: Maximum mail age is unreasonably large. (POST /api/mail_rules/ → 400)');
    expect(emu.count("POST /api/mail_rules/")).toBe(1);
    expect(emu.rules).toEqual([]);
  });

  test("a create whose request landed but timed out is found by name, not created twice", async () => {
    await dependencies();
    emu.fault({ kind: "slow", times: 1, method: "POST", path: /mail_rules/, delayMs: 700 }); // client timeout is 400 ms
    const r = await mailRuleProvider.create!(rule());
    expect(emu.rules).toHaveLength(1);
    expect(r.id).toBe(String(emu.rules[0]!.id));
    expect(emu.count("POST /api/mail_rules/")).toBe(1);
    expect(emu.count("PATCH /api/mail_rules/{id}/")).toBe(1); // adopted what landed
  });

  test("a create whose connection dropped after landing is adopted; one dropped before landing is re-sent", async () => {
    emu.fault({ kind: "drop", times: 1, method: "POST", path: /mail_accounts/, landed: true });
    await mailAccountProvider.create!(account());
    expect(emu.accounts).toHaveLength(1);
    emu.fault({ kind: "drop", times: 1, method: "POST", path: /tags/, landed: false });
    await tagProvider.create!(tag());
    expect(emu.tags).toHaveLength(1);
    expect(emu.count("POST /api/tags/")).toBe(2);
  });

  test("transient 5xx, 429 and dropped reads are retried and succeed", async () => {
    await dependencies();
    clearSessions();
    emu.fault({ kind: "5xx", times: 2, method: "GET" });
    emu.fault({ kind: "429", times: 1, method: "GET", path: /users/ });
    emu.fault({ kind: "drop", times: 1, method: "GET", path: /tags/ });
    emu.fault({ kind: "5xx", times: 1, method: "POST" });
    emu.fault({ kind: "slow", times: 1, method: "GET", path: /mail_rules/, delayMs: 700 });
    await mailRuleProvider.create!(rule());
    expect(emu.rules).toHaveLength(1);
  });

  test("a server that stays down fails after the configured retries, naming the request", async () => {
    emu.fault({ kind: "5xx", times: 100 });
    const e = await failure(tagProvider.create!(tag()));
    expect(e.message).toBe('tag "email-ingest": Service Unavailable (emulated) (GET /api/mail_accounts/?page_size=1 → 503)');
    expect(emu.count("GET /api/mail_accounts/")).toBe(4); // 1 + PAPERLESS_HTTP_RETRIES=3
  });

  test("two resources ensuring the same tag at once end with one tag, both pointing at it", async () => {
    const [a, b] = await Promise.all([tagProvider.create!(tag()), tagProvider.create!(tag())]);
    expect(emu.tags).toHaveLength(1);
    expect([a.id, b.id]).toEqual([String(emu.tags[0]!.id), String(emu.tags[0]!.id)]);
    expect(emu.count("POST /api/tags/")).toBe(2); // the loser's 400, then adoption
  });

  test("tags are created unowned so every mapped owner sees them", async () => {
    await tagProvider.create!(tag());
    expect(emu.tags[0]!.owner).toBeNull();
  });
});

describe("read", () => {
  test("returns the server's state in names, keeps the masked password, and reports a vanished object as gone", async () => {
    await dependencies();
    const r = await mailRuleProvider.create!(rule());
    const a = emu.accounts[0]!;
    Object.assign(emu.rules[0]!, { owner: emu.user("emo").id, folder: "Other" });
    clearSessions();
    const read = await mailRuleProvider.read!(r.id, r.outs);
    expect(read).toEqual({ id: r.id, props: { ...rule(), owner: "emo", folder: "Other", paperlessId: Number(r.id) } });
    const readAccount = await mailAccountProvider.read!(String(a.id), { ...account(), paperlessId: a.id });
    expect(readAccount.props).toEqual({ ...account(), paperlessId: a.id }); // password from state, never the mask
    emu.rules.length = 0;
    clearSessions();
    expect(await mailRuleProvider.read!(r.id, r.outs)).toEqual({ id: "", props: {} });
  });

  test("request budget: reading N rules costs the same few list requests for N=5 and N=500", async () => {
    const cost = async (n: number): Promise<Record<string, number>> => {
      await emu.close();
      await start();
      const { accountId, tagId } = await dependencies();
      for (let i = 0; i < n; i++) {
        emu.addRule({ name: `rule ${i}`, account: accountId, owner: emu.user("anca").id, assign_tags: [tagId], filter_from: `s${i}@x.org` });
      }
      clearSessions();
      emu.resetCounters();
      const reads = await Promise.all(emu.rules.map((row) => mailRuleProvider.read!(String(row.id), rule({ name: String(row.name) }))));
      expect(reads.every((r) => r.id !== "")).toBe(true);
      return Object.fromEntries(emu.counters);
    };
    const small = await cost(5);
    const large = await cost(500);
    expect(large).toEqual(small);
    // one probe and one list each; nothing per rule
    expect(small).toEqual({ "GET /api/mail_accounts/": 2, "GET /api/mail_rules/": 1, "GET /api/users/": 1, "GET /api/tags/": 1 });
  });

  test("creates one after another (engine --parallel 1) list the rules once, not once per rule", async () => {
    await dependencies();
    clearSessions();
    emu.resetCounters();
    for (let i = 0; i < 20; i++) await mailRuleProvider.create!(rule({ name: `forward: S${i}`, filter_from: `s${i}@example.com` }));
    expect(emu.rules).toHaveLength(20);
    expect(emu.count("GET /api/mail_rules/")).toBe(1);
    expect(emu.count("POST /api/mail_rules/")).toBe(20);
    // What the memo learned from the writes is what the server holds.
    clearSessions();
    const reads = await Promise.all(emu.rules.map((row) => mailRuleProvider.read!(String(row.id), rule({ name: String(row.name), filter_from: String(row.filter_from) }))));
    expect(reads.map((r) => r.props.name)).toEqual(emu.rules.map((r) => r.name));
  });

  test("lists follow `next` across pages", async () => {
    const { accountId } = await dependencies();
    for (let i = 0; i < 1200; i++) emu.addRule({ name: `r${i}`, account: accountId, owner: null });
    const last = emu.rules.at(-1)!;
    clearSessions();
    emu.resetCounters();
    const read = await mailRuleProvider.read!(String(last.id), rule({ name: "r1199" }));
    expect(read.id).toBe(String(last.id));
    expect(emu.count("GET /api/mail_rules/")).toBe(2); // page_size 1000
  });
});

describe("update", () => {
  test("PATCHes the declared state, owner explicitly, password only when it changed", async () => {
    await dependencies();
    const a = await mailAccountProvider.create!(account());
    emu.resetCounters();
    await mailAccountProvider.update!(a.id, a.outs, account({ imap_port: 143 }));
    expect(emu.writes).toEqual([{ method: "PATCH", path: `/api/mail_accounts/${a.id}/`, body: expect.not.objectContaining({ password: expect.anything() }) }]);
    await mailAccountProvider.update!(a.id, a.outs, account({ password: "rotated-password" }));
    expect(emu.passwords.get(Number(a.id))).toBe("rotated-password");

    const r = await mailRuleProvider.create!(rule());
    emu.resetCounters();
    const u = await mailRuleProvider.update!(r.id, r.outs, rule({ owner: "emo", filter_from: "new@example.com" }));
    expect(emu.writes[0]).toMatchObject({ method: "PATCH", body: { owner: emu.user("emo").id, filter_from: "new@example.com", action: 2, action_parameter: "Processed" } });
    expect(u.outs).toEqual({ ...rule({ owner: "emo", filter_from: "new@example.com" }), paperlessId: Number(r.id) });
  });

  test("updating an object deleted by hand says to refresh", async () => {
    const t = await tagProvider.create!(tag());
    emu.tags.length = 0;
    const e = await failure(tagProvider.update!(t.id, t.outs, tag({ name: "renamed" })));
    expect(e.message).toMatch(/^tag "renamed": id \d+ no longer exists on http:\/\/127\.0\.0\.1:\d+; run `pulumi refresh`/);
  });
});

describe("delete", () => {
  test("404 is success; destroy works in any order, the account delete cascading to its rules", async () => {
    const driver = new ProviderDriver();
    const config = prodConfig();
    const desired = mailboxResources("docs", config.mailboxes[0]!, config.mailserver, { ...config.paperless, url: emu.url }, { token: emu.token, password: PASSWORD });
    await driver.up(desired);
    expect(emu.rules).toHaveLength(5);
    // Account first: the server cascades, and the rules' own deletes then meet 404.
    await driver.destroy(["docs-account", ...desired.slice(1).map((d) => d.name).reverse()]);
    expect([emu.accounts, emu.rules, emu.tags]).toEqual([[], [], []]);
    expect(emu.count("DELETE /api/mail_rules/{id}/")).toBe(5);
  });

  test("a tag that documents carry, or another rule assigns, is kept", async () => {
    const t = await tagProvider.create!(tag());
    clearSessions(); // destroy is a later operation
    const doc = emu.addDocument("invoice.pdf", [Number(t.id)]);
    await tagProvider.delete!(t.id, t.outs);
    expect(emu.tags).toHaveLength(1);
    doc.tags = [];
    const other = emu.addAccount({ name: "other@example.com", password: "x" });
    const foreign = emu.addRule({ name: "theirs", account: other.id, assign_tags: [Number(t.id)] });
    clearSessions();
    await tagProvider.delete!(t.id, t.outs);
    expect(emu.tags).toHaveLength(1);
    foreign.assign_tags = [];
    clearSessions();
    await tagProvider.delete!(t.id, t.outs);
    expect(emu.tags).toEqual([]);
  });

  test("a failed delete names the object and the request", async () => {
    const t = await tagProvider.create!(tag());
    clearSessions();
    emu.fault({ kind: "5xx", times: 100, method: "DELETE" });
    const e = await failure(tagProvider.delete!(t.id, t.outs));
    expect(e.message).toBe(`tag "email-ingest": Service Unavailable (emulated) (DELETE /api/tags/${t.id}/ → 503)`);
  });
});

describe("secrets", () => {
  test("no error, check failure or diff carries the token or the password", async () => {
    const messages: string[] = [];
    const collect = async (p: Promise<unknown>) => { try { messages.push(JSON.stringify(await p)); } catch (e) { messages.push(String((e as Error).stack)); } };
    await collect(mailAccountProvider.check!({}, account({ token: "", imap_security: 7 })).then((r) => r.failures));
    await collect(mailAccountProvider.diff!("1", account(), account({ password: "other-password" })));
    emu.fault({ kind: "5xx", times: 100 });
    await collect(mailAccountProvider.create!(account()));
    emu.clearFaults();
    emu.fault({ kind: "drop", times: 100, method: "POST" });
    await collect(mailAccountProvider.create!(account()));
    expect(messages.join("\n")).not.toMatch(new RegExp(`${emu.token}|${PASSWORD}|other-password`));
    expect(messages).toHaveLength(4);
  });

  test("in the state, the token and the password appear only under the outputs marked secret", async () => {
    const driver = new ProviderDriver();
    const config = prodConfig();
    await driver.up(mailboxResources("docs", config.mailboxes[0]!, config.mailserver, { ...config.paperless, url: emu.url }, { token: emu.token, password: PASSWORD }));
    // Serialize the state the way the engine does: additionalSecretOutputs become ciphertext.
    const stored = [...driver.state.values()].map((e) => Object.fromEntries(Object.entries(e.outs)
      .map(([k, v]) => [k, (SECRET_OUTPUTS as readonly string[]).includes(k) ? { secure: "ciphertext" } : v])));
    const text = JSON.stringify(stored);
    expect(text).not.toContain(emu.token);
    expect(text).not.toContain(PASSWORD);
    expect(stored).toHaveLength(7);
  });
});
