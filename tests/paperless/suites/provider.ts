// Every provider method against the real server through the fault proxy: check, diff, create,
// read, update (PATCH), delete; adoption; faults; the request budget; secrets in errors and state.
import type { AccountInputs, RuleInputs, TagInputs } from "../../../providers/paperless/provider";
import {
  accountKind,
  changedFields,
  mailAccountProvider,
  mailRuleProvider,
  ruleKind,
  SECRET_OUTPUTS,
  tagProvider,
} from "../../../providers/paperless/provider";
import { forgetProcessMemory } from "../../../providers/processMemory";
import type { Row } from "../../support/paperless/admin";
import { prodConfig } from "../../support/prodConfig";
import type { Ctx } from "../context";
import { mailboxResources, ProviderDriver } from "../providerDriver";
import { capturedStderr, failure, patiently } from "../support";

const PASSWORD = "mailbox-password-5678";

export const account = (url: string, over: Partial<AccountInputs> = {}): AccountInputs => ({
  url,
  name: "docs@example.com",
  imap_server: "imap.example.com",
  imap_port: 993,
  imap_security: 2,
  username: "docs@example.com",
  character_set: "UTF-8",
  account_type: 1,
  is_token: false,
  password: PASSWORD,
  ...over,
});
export const tag = (url: string, over: Partial<TagInputs> = {}): TagInputs => ({ url, name: "email-ingest", ...over });
export const rule = (url: string, over: Partial<RuleInputs> = {}): RuleInputs => ({
  url,
  name: "forward: Anca",
  account: "docs@example.com",
  owner: "anca",
  order: 103,
  enabled: true,
  folder: "INBOX",
  filter_from: "anca@example.com",
  filter_to: "",
  filter_subject: "",
  filter_body: "",
  filter_attachment_filename_include: "",
  filter_attachment_filename_exclude: "",
  maximum_age: 30,
  action: 2,
  action_parameter: "Processed",
  assign_title_from: 1,
  assign_tags: ["email-ingest"],
  assign_owner_from_rule: true,
  assign_correspondent_from: 1,
  assign_correspondent: "",
  assign_document_type: "",
  attachment_type: 1,
  consumption_scope: 1,
  pdf_layout: 0,
  stop_processing: false,
  ...over,
});

export function providerTests(ctx: () => Ctx): void {
  const a = (over: Partial<AccountInputs> = {}) => account(ctx().url, over);
  const t = (over: Partial<TagInputs> = {}) => tag(ctx().url, over);
  const r = (over: Partial<RuleInputs> = {}) => rule(ctx().url, over);
  const list = (c: string) => ctx().api.list<Row>(`/api/${c}/`);
  const is3 = () => ctx().version.startsWith("3.");
  const proxy = () => ctx().proxy;
  const stderr = capturedStderr();

  /** Account and tag in place, as the rule's dependencies would be. */
  async function dependencies(): Promise<{ accountId: number; tagId: number }> {
    const acc = await mailAccountProvider.create(a());
    const tg = await tagProvider.create(t());
    return { accountId: Number(acc.id), tagId: Number(tg.id) };
  }
  const handAccount = (name: string, over: Record<string, unknown> = {}) =>
    ctx().api.post("/api/mail_accounts/", { name, imap_server: "imap.example.org", username: name, password: "hand-password", ...over });
  const handRule = (name: string, accountId: number, over: Record<string, unknown> = {}) =>
    ctx().api.post("/api/mail_rules/", { name, account: accountId, ...over });
  /** Rules made in bulk through the ORM (one manage.py start-up instead of a request each). */
  const bulkRules = (n: number, withTag: boolean) =>
    ctx().server.manage([
      "shell",
      "-c",
      [
        "from paperless_mail.models import MailAccount, MailRule",
        "from documents.models import Tag",
        "from django.contrib.auth.models import User",
        "a = MailAccount.objects.get(name='docs@example.com'); u = User.objects.get(username='anca')",
        `rules = MailRule.objects.bulk_create([MailRule(name=f'rule {i}', account=a, owner=u, filter_from=f's{i}@x.org', order=i) for i in range(${n})])`,
        withTag
          ? "t = Tag.objects.get(name='email-ingest'); MailRule.assign_tags.through.objects.bulk_create([MailRule.assign_tags.through(mailrule_id=r.id, tag_id=t.id) for r in MailRule.objects.filter(name__startswith='rule ')])"
          : "",
      ].join("\n"),
    ]);

  describe("check", () => {
    test("accepts valid inputs and reports every invalid field by name and value", async () => {
      expect((await mailRuleProvider.check!({}, r())).failures).toEqual([]);
      const bad = await mailRuleProvider.check!({}, { ...r(), action: 9, maximum_age: 32768, assign_tags: [""], pdf_layout: 7 });
      expect(bad.failures!.map((f) => f.property).sort()).toEqual(["action", "assign_tags", "maximum_age", "pdf_layout"]);
      expect(bad.failures!.find((f) => f.property === "action")!.reason).toBe("action 9 must be one of 1, 2, 3, 4, 5");
      expect(bad.failures!.find((f) => f.property === "maximum_age")!.reason).toBe("maximum_age 32768 must be an integer from 0 to 32767");
    });

    test("MOVE without a target folder fails at preview", async () => {
      const res = await mailRuleProvider.check!({}, r({ action_parameter: "" }));
      expect(res.failures).toEqual([{ property: "action_parameter", reason: "action_parameter is required when action is 2 (MOVE/TAG)" }]);
    });

    test("an unknown owner is a preview error naming the user, the closest existing one if any, and the fix; never the list of users; nothing is written", async () => {
      const reason = async (owner: string) => {
        const res = await mailRuleProvider.check!({}, r({ owner }));
        expect(res.failures!.map((f) => f.property)).toEqual(["owner"]);
        return res.failures![0]!.reason;
      };
      const fix = "; create the user in paperless-ngx or fix the sender's `user` in the stack config";
      expect(await reason("bob")).toBe(`owner: paperless user "bob" does not exist on ${ctx().url}${fix}`);
      expect(await reason("ancca")).toBe(`owner: paperless user "ancca" does not exist on ${ctx().url} (did you mean "anca"?)${fix}`);
      expect(await reason("Rooot")).toBe(`owner: paperless user "Rooot" does not exist on ${ctx().url} (did you mean "root"?)${fix}`);
      expect(ctx().proxy.writes()).toEqual([]);
    });

    test("the owner is matched case-insensitively, like username__iexact, unless that is ambiguous", async () => {
      expect((await mailRuleProvider.check!({}, r({ owner: "Anca" }))).failures).toEqual([]);
      await ctx().server.manage([
        "shell",
        "-c",
        "from django.contrib.auth.models import User; User.objects.get_or_create(username='ANCA')",
      ]);
      forgetProcessMemory();
      expect((await mailRuleProvider.check!({}, r({ owner: "anca" }))).failures).toEqual([]);
      expect((await mailRuleProvider.check!({}, r({ owner: "Anca" }))).failures![0]!.reason).toMatch(
        /^owner: "Anca" matches several paperless users when case is ignored \((anca, ANCA|ANCA, anca)\); write the username exactly$/,
      );
      await ctx().server.manage([
        "shell",
        "-c",
        "from django.contrib.auth.models import User; User.objects.filter(username='ANCA').delete()",
      ]);
    });

    test("unknown values at preview are not validated or looked up (the server is asked only whose token it has)", async () => {
      const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
      expect((await mailAccountProvider.check!({}, a({ password: unknown, imap_port: unknown as unknown as number }))).failures).toEqual(
        [],
      );
      expect((await mailRuleProvider.check!({}, r({ url: unknown }))).failures).toEqual([]);
      expect(ctx().proxy.requests.map((q) => `${q.method} ${q.path}`)).toEqual(["GET /api/ui_settings/"]);
    });

    test("a bad token fails check with the server's answer, where the token came from, the fix that works from there, and without the token", async () => {
      const saved = process.env.PAPERLESS_API_TOKEN;
      const config = (token: string) => ({
        config: { get: (k: string) => (k === "paperless-mail-ingest:paperlessToken" ? token : undefined), require: () => "" },
      });
      process.env.PAPERLESS_API_TOKEN = "wrong-token-abcdef";
      try {
        const fromEnv = await failure(mailRuleProvider.check!({}, r()));
        expect(fromEnv.message).toBe(
          'mail rule "forward: Anca": Invalid token. (GET /api/ui_settings/ → 401); the API token from PAPERLESS_API_TOKEN was rejected ' +
            "(no stack setting `paperless-mail-ingest:paperlessToken` reached this operation): export a valid one",
        );
        // From the stack setting, the environment is not read: the advice is the setting, and how a refresh or destroy gets the new one.
        await mailRuleProvider.configure!(config("stale-setting-123456"));
        const fromSetting = await failure(mailRuleProvider.check!({}, r()));
        expect(fromSetting.message).toBe(
          'mail rule "forward: Anca": Invalid token. (GET /api/ui_settings/ → 401); the API token from the stack setting ' +
            "`paperless-mail-ingest:paperlessToken` was rejected. Set a valid one with `pulumi config set --secret paperlessToken <token>`, then run " +
            "`pulumi up`: until then `pulumi refresh` and `pulumi destroy` use the token the last `up` saved (add `--run-program` to them to use the new one), " +
            "and PAPERLESS_API_TOKEN is not read while the setting is there",
        );
        expect(fromEnv.message + fromEnv.stack + fromSetting.message + fromSetting.stack).not.toMatch(
          /wrong-token-abcdef|stale-setting-123456/,
        );
      } finally {
        process.env.PAPERLESS_API_TOKEN = saved;
        forgetProcessMemory(); // forgets the configured token too
      }
    });

    test("a token whose user has no permissions at all is refused at check, saying a superuser's is needed", async () => {
      const saved = process.env.PAPERLESS_API_TOKEN;
      process.env.PAPERLESS_API_TOKEN = ctx().server.users.anca!.token;
      try {
        const e = await failure(mailRuleProvider.check!({}, r()));
        expect(e.message).toMatch(
          /^mail rule "forward: Anca": the API token from PAPERLESS_API_TOKEN belongs to a user who is not a paperless superuser \(paperless refused it its own settings: GET \/api\/ui_settings\/ → 403\)\. .* Use the API token of a superuser \(`pulumi config set --secret paperlessToken <token>`\)$/,
        );
      } finally {
        process.env.PAPERLESS_API_TOKEN = saved;
      }
    });

    test("the stack config handed to configure wins over the environment; without either, the message says how to set one", async () => {
      const saved = process.env.PAPERLESS_API_TOKEN;
      const config = (token: string | undefined) => ({
        config: { get: (k: string) => (k === "paperless-mail-ingest:paperlessToken" ? token : undefined), require: () => "" },
      });
      try {
        process.env.PAPERLESS_API_TOKEN = "stale-env-token";
        await mailRuleProvider.configure!(config(ctx().server.token));
        expect((await mailRuleProvider.check!({}, r())).failures).toEqual([]);
        delete process.env.PAPERLESS_API_TOKEN;
        forgetProcessMemory(); // a new operation: nothing configured yet
        const e = await failure(tagProvider.create(t()));
        expect(e.message).toBe(
          'tag "email-ingest": no paperless-ngx API token: set one with `pulumi config set --secret paperlessToken <token>` or export PAPERLESS_API_TOKEN',
        );
      } finally {
        process.env.PAPERLESS_API_TOKEN = saved;
      }
    });

    test("a password failing validation is named but not shown", async () => {
      expect((await mailAccountProvider.check!({}, a({ password: "" }))).failures).toEqual([
        { property: "password", reason: "password must be a non-empty string" },
      ]);
    });
  });

  describe("diff", () => {
    test("reports exactly the changed fields; tag order does not count; url forces a delete-before-replace; the token is none of them", async () => {
      await dependencies();
      const { id, outs: olds } = await mailRuleProvider.create(r());
      expect(await mailRuleProvider.diff!(id, olds, r())).toEqual({
        changes: false,
        replaces: [],
        stables: ["paperlessId"],
        deleteBeforeReplace: false,
      });
      expect(changedFields(accountKind, a(), a({ password: "new", imap_port: 143 }))).toEqual({
        changed: ["imap_port", "password"],
        replaces: [],
      });
      expect(changedFields(ruleKind, r({ assign_tags: ["a", "b"] }), r({ assign_tags: ["b", "a"] })).changed).toEqual([]);
      expect(await mailRuleProvider.diff!(id, olds, r({ owner: "emo" }))).toEqual({
        changes: true,
        replaces: [],
        stables: ["paperlessId"],
        deleteBeforeReplace: false,
      });
      expect((await mailRuleProvider.diff!(id, olds, r({ filter_subject: "invoice" }))).changes).toBe(true);
      expect(await mailRuleProvider.diff!(id, olds, r({ url: "http://elsewhere.example" }))).toEqual({
        changes: true,
        replaces: ["url"],
        stables: [],
        deleteBeforeReplace: true,
      });
      // A state from before the token left the inputs is rewritten once, without it.
      expect(changedFields(accountKind, { ...a(), token: "old" } as AccountInputs, a())).toEqual({ changed: ["token"], replaces: [] });
    });

    test("what was changed or deleted by hand in paperless shows on a plain diff (no refresh), from the lists check read", async () => {
      await dependencies();
      const acc = (await list("mail_accounts"))[0]!;
      const tg = (await list("tags"))[0]!;
      const { id, outs } = await mailRuleProvider.create(r({ owner: "Anca" })); // the owner as written, resolved like a write
      const unchanged = async () =>
        Promise.all([
          mailRuleProvider.diff!(id, outs, r({ owner: "Anca" })),
          mailAccountProvider.diff!(String(acc.id), a(), a()),
          tagProvider.diff!(String(tg.id), t(), t()),
        ]).then((ds) => ds.map((d) => d.changes));
      forgetProcessMemory();
      expect(await unchanged()).toEqual([false, false, false]);

      await ctx().api.request("PATCH", `/api/mail_rules/${id}/`, { filter_subject: "invoice" });
      await ctx().api.request("PATCH", `/api/mail_accounts/${acc.id}/`, { imap_port: 143 });
      await ctx().api.request("PATCH", `/api/tags/${tg.id}/`, { name: "renamed" });
      forgetProcessMemory();
      proxy().reset();
      expect(await unchanged()).toEqual([true, true, true]);
      expect(proxy().writes()).toEqual([]);
      expect(new Set(proxy().requests.map((q) => q.path)).size).toBe(proxy().requests.length); // each list once

      await ctx().api.request("DELETE", `/api/mail_rules/${id}/`);
      forgetProcessMemory();
      expect(await mailRuleProvider.diff!(id, outs, r({ owner: "Anca" }))).toEqual({
        changes: true,
        replaces: ["paperlessId"],
        stables: [],
        deleteBeforeReplace: false,
      });
    });
  });

  describe("create", () => {
    test("creates the rule with ids resolved from names, owner sent explicitly, every declared field", async () => {
      const { accountId, tagId } = await dependencies();
      const res = await mailRuleProvider.create(r());
      const row = (await list("mail_rules")).find((x) => x.id === Number(res.id))!;
      expect(row).toMatchObject({
        account: accountId,
        owner: ctx().userId("anca"),
        assign_tags: [tagId],
        filter_from: "anca@example.com",
        pdf_layout: 0,
        assign_correspondent_from: 1,
        assign_correspondent: null,
        assign_document_type: null,
      });
      // Posted under its unfinished name, renamed once the answer came (so a lost answer is never taken for a hand-made rule).
      const writes = ctx()
        .proxy.writes()
        .filter((w) => w.path.startsWith("/api/mail_rules/"));
      expect(writes.map((w) => `${w.method} ${w.path}`)).toEqual(["POST /api/mail_rules/", `PATCH /api/mail_rules/${res.id}/`]);
      expect(writes[1]!.body).toEqual({ name: "forward: Anca" });
      const sent = writes[0]!.body as Record<string, unknown>;
      expect(sent).toHaveProperty("name", "forward: Anca (unfinished pulumi create)");
      expect(sent).toHaveProperty("owner", ctx().userId("anca"));
      expect(Object.keys(sent)).toEqual(
        expect.arrayContaining([
          "filter_to",
          "filter_subject",
          "filter_body",
          "filter_attachment_filename_include",
          "filter_attachment_filename_exclude",
          "assign_correspondent_from",
          "assign_correspondent",
          "assign_document_type",
          "pdf_layout",
          "enabled",
          "folder",
        ]),
      );
      expect(res.outs).toEqual({ ...r(), paperlessId: row.id });
      // stop_processing exists on 3.x only: not sent to 2.x, and 2.x shows no drift for it.
      expect("stop_processing" in sent).toBe(is3());
      forgetProcessMemory();
      expect((await mailRuleProvider.read!(res.id, res.outs)).props).toEqual(res.outs);
    });

    test(`negotiates the API version the server allows (10 on 3.x, 9 on 2.x: each would 406 the other's)`, async () => {
      const versions: string[] = [];
      const realFetch = globalThis.fetch;
      const spy = jest.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
        versions.push(String((init?.headers as Record<string, string>).Accept));
        return realFetch(input, init);
      });
      try {
        await tagProvider.create(t());
      } finally {
        spy.mockRestore();
      }
      // Every request but the probe that finds it out: the lists the session reads together, the POST, the rename.
      expect(versions.length).toBeGreaterThanOrEqual(4);
      expect(versions.filter((v) => v.includes("version="))).toEqual(
        Array(versions.length - 1).fill(`application/json; version=${is3() ? 10 : 9}`),
      );
    });

    test("adopts an existing account and rule by name, bringing them to the declared state (hand-made filters reset)", async () => {
      const { api } = ctx();
      const hand = await handAccount("docs@example.com", { imap_server: "old.example", imap_port: 143 });
      const tg = await api.post("/api/tags/", { name: "Email-Ingest", owner: ctx().userId("root") });
      const other = await handAccount("other@example.com");
      await handRule("forward: Anca", other.id, { owner: ctx().userId("emo") }); // same name, other account and owner: left alone
      // made by root in the UI; same sender (compared case-insensitively), and a subject filter of its own
      const mine = await handRule("forward: Anca", hand.id, {
        owner: ctx().userId("root"),
        filter_from: "Anca@Example.com",
        action: 3,
        filter_subject: "invoice",
        pdf_layout: 2,
      });
      proxy().reset();

      const acc = await mailAccountProvider.create(a());
      const tgr = await tagProvider.create(t());
      const res = await mailRuleProvider.create(r());
      expect([acc.id, tgr.id, res.id]).toEqual([String(hand.id), String(tg.id), String(mine.id)]);
      expect(await list("mail_accounts")).toHaveLength(2);
      expect((await list("tags")).map((x) => x.name)).toEqual(["email-ingest"]);
      expect(await list("mail_rules")).toHaveLength(2);
      expect((await list("mail_accounts")).find((x) => x.id === hand.id)).toMatchObject({
        imap_server: "imap.example.com",
        imap_port: 993,
      });
      expect((await list("mail_rules")).find((x) => x.id === mine.id)).toMatchObject({
        owner: ctx().userId("anca"),
        filter_from: "anca@example.com",
        action: 2,
        action_parameter: "Processed",
        assign_tags: [tg.id],
        pdf_layout: 0,
      });
      expect(["", null]).toContain((await list("mail_rules")).find((x) => x.id === mine.id)!.filter_subject);
      expect(
        proxy()
          .writes()
          .map((w) => w.method),
      ).toEqual(["PATCH", "PATCH", "PATCH"]);
    });
    test("two senders sharing a label under different owners get a rule each; neither takes the other's", async () => {
      const { accountId } = await dependencies();
      const roots = await handRule("forward: Viktor", accountId, { owner: ctx().userId("root"), filter_from: "v@example.com" });
      const [x, y] = await Promise.all([
        mailRuleProvider.create(r({ name: "forward: Viktor", owner: "root", filter_from: "v@example.com" })),
        mailRuleProvider.create(r({ name: "forward: Viktor", owner: "anca", filter_from: "v2@example.com" })),
      ]);
      expect(x.id).toBe(String(roots.id));
      expect(y.id).not.toBe(x.id);
      expect((await list("mail_rules")).map((row) => [row.filter_from, row.owner]).sort()).toEqual([
        ["v2@example.com", ctx().userId("anca")],
        ["v@example.com", ctx().userId("root")],
      ]);
    });

    test("a rule of the same name and owner on another account is a clear error, not a takeover", async () => {
      await dependencies();
      const other = await handAccount("other@example.com");
      const theirs = await handRule("forward: Anca", other.id, { owner: ctx().userId("anca") });
      forgetProcessMemory(); // a later operation
      const e = await failure(mailRuleProvider.create(r()));
      expect(e.message).toBe(
        `mail rule "forward: Anca": a rule with this name and owner "anca" already exists on mail account "other@example.com" (rule id ${theirs.id}), ` +
          "which is not this sender's on another mailbox of this stack; rename or remove it. To move a sender off a mailbox you are also removing, move it in one `pulumi up` and remove the mailbox in the next",
      );
      expect(await list("mail_rules")).toHaveLength(1);
      // The same sender's rule there is no different while that account is not one of the stack's.
      await ctx().api.request("PATCH", `/api/mail_rules/${theirs.id}/`, { filter_from: "anca@example.com" });
      forgetProcessMemory();
      expect(
        (await failure(mailRuleProvider.create(r({ stackAccounts: ["docs@example.com", "receipts@example.com"] })))).message,
      ).toContain("rename or remove it");
      expect(await list("mail_rules")).toHaveLength(1);
    });

    test("a sender moved to another mailbox of the stack: a new rule there; the old one, renamed aside, files the sender's mail on its account until its own delete", async () => {
      await dependencies();
      await mailAccountProvider.create(a({ name: "receipts@example.com", username: "receipts@example.com" }));
      const stackAccounts = ["docs@example.com", "receipts@example.com"];
      const rules = async () => {
        const accounts = await list("mail_accounts");
        return Object.fromEntries(
          (await list("mail_rules")).map((x) => [
            x.id,
            `${x.name} @${accounts.find((y) => y.id === x.account)!.name} <${String(x.filter_from)}>`,
          ]),
        );
      };
      const docs = await mailRuleProvider.create(r({ stackAccounts }));
      forgetProcessMemory(); // the move is a later operation
      const moved = r({ account: "receipts@example.com", stackAccounts });
      expect((await mailRuleProvider.check!({}, moved)).failures).toEqual([]);
      const receipts = await mailRuleProvider.create(moved);
      expect(receipts.outs).toEqual({ ...r({ account: "receipts@example.com" }), paperlessId: Number(receipts.id) });
      expect(await rules()).toEqual({
        [docs.id]: "forward: Anca (moving to receipts@example.com) @docs@example.com <anca@example.com>",
        [receipts.id]: "forward: Anca @receipts@example.com <anca@example.com>",
      });
      // Moved back before the docs rule's delete came (the up failed after the create): its update takes the name back the same way.
      forgetProcessMemory();
      await mailRuleProvider.update!(docs.id, docs.outs, r({ stackAccounts }));
      expect(await rules()).toEqual({
        [docs.id]: "forward: Anca @docs@example.com <anca@example.com>",
        [receipts.id]: "forward: Anca (moving to docs@example.com) @receipts@example.com <anca@example.com>",
      });
      await mailRuleProvider.delete!(receipts.id, receipts.outs);
      expect(Object.keys(await rules())).toEqual([docs.id]);
    });

    test("a permanent 4xx fails at once with the server's field error", async () => {
      await dependencies();
      proxy().reset();
      const e = await failure(mailRuleProvider.create(r({ maximum_age: 40000 })));
      expect(e.message).toBe(
        'mail rule "forward: Anca": maximum_age: Maximum mail age is unreasonably large. (POST /api/mail_rules/ → 400)',
      );
      expect(proxy().count("POST", "/api/mail_rules/")).toBe(1);
      expect(await list("mail_rules")).toEqual([]);
    });

    test("a create whose request landed but timed out is found under its unfinished name, finished as the stack's own, not created twice", async () => {
      await dependencies();
      proxy().inject({ kind: "slow", method: "POST", path: /mail_rules/, delayMs: 4000 }); // client timeout is 3 s
      const res = await mailRuleProvider.create(r());
      const rules = await list("mail_rules");
      expect(rules.map((x) => [String(x.id), x.name])).toEqual([[res.id, "forward: Anca"]]);
      expect(proxy().count("POST", "/api/mail_rules/")).toBe(1);
      expect(proxy().count("PATCH", "/api/mail_rules/")).toBe(1); // finished what landed
      expect(res.outs).not.toHaveProperty("adopted");
    });

    test("a rule create that lands and answers 500 (paperless saves the row before its tags) is adopted, tags set", async () => {
      const { tagId } = await dependencies();
      proxy().inject({ kind: "status", status: 500, landed: true, method: "POST", path: /mail_rules/ });
      await mailRuleProvider.create(r());
      expect((await list("mail_rules")).map((x) => x.assign_tags)).toEqual([[tagId]]);
    });

    test("a create whose connection dropped after landing is adopted; one dropped before landing is re-sent", async () => {
      proxy().inject({ kind: "reset", method: "POST", path: /mail_accounts/, landed: true });
      await mailAccountProvider.create(a());
      expect(await list("mail_accounts")).toHaveLength(1);
      proxy().inject({ kind: "reset", method: "POST", path: /tags/ });
      await tagProvider.create(t());
      expect(await list("tags")).toHaveLength(1);
      expect(proxy().count("POST", "/api/tags/")).toBe(2);
    });

    test("transient 5xx, 429 and dropped reads are retried and succeed", async () => {
      await dependencies();
      forgetProcessMemory();
      proxy().inject({ kind: "status", status: 503, times: 2, method: "GET" });
      proxy().inject({ kind: "status", status: 429, retryAfter: 0, method: "GET", path: /users/ });
      proxy().inject({ kind: "reset", method: "GET", path: /tags/ });
      proxy().inject({ kind: "status", status: 502, method: "POST" });
      proxy().inject({ kind: "hang", method: "GET", path: /mail_rules/ });
      await mailRuleProvider.create(r());
      expect(await list("mail_rules")).toHaveLength(1);
    });

    test("a server that stays down fails after the configured retries, naming the request", async () => {
      proxy().inject({ kind: "status", status: 503, times: 100 });
      const e = await failure(tagProvider.create(t()));
      expect(e.message).toBe('tag "email-ingest": injected fault: 503 (GET /api/ui_settings/ → 503)');
      expect(proxy().count("GET", "/api/ui_settings/")).toBe(4); // 1 + PAPERLESS_HTTP_RETRIES=3
    });

    test("two resources ensuring the same tag at once end with one tag, both pointing at it", async () => {
      const [x, y] = await Promise.all([tagProvider.create(t()), tagProvider.create(t())]);
      const tags = await list("tags");
      expect(tags).toHaveLength(1);
      expect([x.id, y.id]).toEqual([String(tags[0]!.id), String(tags[0]!.id)]);
    });

    test("tags are created unowned so every mapped owner sees them", async () => {
      await tagProvider.create(t());
      expect((await list("tags"))[0]!.owner).toBeNull();
    });
  });

  describe("read", () => {
    test("returns the server's state in names, keeps the masked password, and reports a vanished object as gone", async () => {
      await dependencies();
      const res = await mailRuleProvider.create(r());
      const acc = (await list("mail_accounts"))[0]!;
      await ctx().api.request("PATCH", `/api/mail_rules/${res.id}/`, {
        owner: ctx().userId("emo"),
        folder: "Other",
        filter_body: "secret plan",
      });
      forgetProcessMemory();
      expect(await mailRuleProvider.read!(res.id, res.outs)).toEqual({
        id: res.id,
        props: { ...r(), owner: "emo", folder: "Other", filter_body: "secret plan", paperlessId: Number(res.id) },
      });
      const readAccount = await mailAccountProvider.read!(String(acc.id), { ...a(), paperlessId: acc.id });
      expect(readAccount.props).toEqual({ ...a(), paperlessId: acc.id }); // password from state, never the mask
      await ctx().api.request("DELETE", `/api/mail_rules/${res.id}/`);
      forgetProcessMemory();
      expect(await mailRuleProvider.read!(res.id, res.outs)).toEqual({ id: "", props: {} });
    });

    test("request budget: reading N rules costs the same few list requests for N=5 and N=300", async () => {
      const cost = async (n: number): Promise<string[]> => {
        await ctx().api.clean();
        forgetProcessMemory();
        await dependencies();
        await bulkRules(n, true);
        const rows = await list("mail_rules");
        forgetProcessMemory();
        proxy().reset();
        const reads = await patiently(() =>
          Promise.all(rows.map((row) => mailRuleProvider.read!(String(row.id), r({ name: String(row.name) })))),
        );
        expect(reads.every((x) => x.id !== "")).toBe(true);
        return proxy()
          .requests.map((q) => `${q.method} ${q.path}`)
          .sort();
      };
      const small = await cost(5);
      expect(await cost(300)).toEqual(small);
      // one probe and one list each; nothing per rule
      expect(small).toEqual([
        "GET /api/mail_accounts/?page_size=1000",
        "GET /api/mail_rules/?page_size=1000",
        "GET /api/tags/?page_size=1000",
        "GET /api/ui_settings/",
        "GET /api/users/?page_size=1000",
      ]);
    });

    test("creates one after another (engine --parallel 1) list the rules once, not once per rule", async () => {
      await dependencies();
      forgetProcessMemory();
      proxy().reset();
      for (let i = 0; i < 10; i++) await mailRuleProvider.create(r({ name: `forward: S${i}`, filter_from: `s${i}@example.com` }));
      const rows = await list("mail_rules");
      expect(rows).toHaveLength(10);
      expect(proxy().count("GET", "/api/mail_rules/")).toBe(1);
      expect(proxy().count("POST", "/api/mail_rules/")).toBe(10);
      // What the memo learned from the writes is what the server holds.
      forgetProcessMemory();
      const reads = await Promise.all(
        rows.map((row) => mailRuleProvider.read!(String(row.id), r({ name: String(row.name), filter_from: String(row.filter_from) }))),
      );
      expect(reads.map((x) => x.props.name)).toEqual(rows.map((x) => x.name));
    });

    test("lists follow `next` across pages", async () => {
      await dependencies();
      await bulkRules(1200, false);
      const last = (await list("mail_rules")).find((x) => x.name === "rule 1199")!;
      forgetProcessMemory();
      proxy().reset();
      const read = await patiently(() => mailRuleProvider.read!(String(last.id), r({ name: "rule 1199" })));
      expect(read.id).toBe(String(last.id));
      expect(proxy().count("GET", "/api/mail_rules/")).toBe(2); // page_size 1000
    });
  });

  describe("update", () => {
    test("PATCHes the declared state, owner explicitly, password only when it changed", async () => {
      await dependencies();
      const acc = (await list("mail_accounts"))[0]!;
      const outs = { ...a(), paperlessId: acc.id };
      proxy().reset();
      await mailAccountProvider.update!(String(acc.id), outs, a({ imap_port: 143 }));
      expect(proxy().writes()).toEqual([
        { method: "PATCH", path: `/api/mail_accounts/${acc.id}/`, body: expect.not.objectContaining({ password: expect.anything() }) },
      ]);
      await mailAccountProvider.update!(String(acc.id), outs, a({ password: "rotated-password" }));
      const { stdout } = await ctx().server.manage([
        "shell",
        "-c",
        `from paperless_mail.models import MailAccount; print("PW " + MailAccount.objects.get(id=${acc.id}).password)`,
      ]);
      expect(stdout).toContain("PW rotated-password\n");

      const res = await mailRuleProvider.create(r());
      proxy().reset();
      const u = await mailRuleProvider.update!(res.id, res.outs, r({ owner: "emo", filter_from: "new@example.com" }));
      expect(proxy().writes()[0]).toMatchObject({
        method: "PATCH",
        body: { owner: ctx().userId("emo"), filter_from: "new@example.com", action: 2, action_parameter: "Processed" },
      });
      expect(u.outs).toEqual({ ...r({ owner: "emo", filter_from: "new@example.com" }), paperlessId: Number(res.id) });
    });

    test("updating an object deleted by hand says to refresh", async () => {
      const tg = await tagProvider.create(t());
      await ctx().api.request("DELETE", `/api/tags/${tg.id}/`);
      const e = await failure(tagProvider.update!(tg.id, tg.outs, t({ name: "renamed" })));
      expect(e.message).toMatch(/^tag "renamed": id \d+ no longer exists on http:\/\/127\.0\.0\.1:\d+; run `pulumi refresh`/);
    });
  });

  describe("delete", () => {
    test("404 is success: rules already gone with their account (deleted by hand) are deleted without error", async () => {
      const driver = new ProviderDriver();
      const config = prodConfig();
      const desired = mailboxResources(
        "docs",
        config.mailboxes[0]!,
        config.mailserver,
        { ...config.paperless, url: ctx().url },
        { password: PASSWORD },
      );
      await driver.up(desired);
      expect(await list("mail_rules")).toHaveLength(5);
      await ctx().api.request("DELETE", `/api/mail_accounts/${(await list("mail_accounts"))[0]!.id}/`);
      proxy().reset();
      await driver.destroy();
      expect([await list("mail_accounts"), await list("mail_rules"), await list("tags")]).toEqual([[], [], []]);
      expect(proxy().count("DELETE", "/api/mail_rules/")).toBe(5);
    });

    test("a tag that documents carry, or another rule assigns, is kept", async () => {
      const tg = await tagProvider.create(t());
      forgetProcessMemory(); // destroy is a later operation
      const doc = await ctx().api.addDocument("invoice", [Number(tg.id)]);
      await tagProvider.delete!(tg.id, tg.outs);
      expect(await list("tags")).toHaveLength(1);
      await ctx().api.request("PATCH", `/api/documents/${doc.id}/`, { tags: [] });
      const other = await handAccount("other@example.com");
      const foreign = await handRule("theirs", other.id, { assign_tags: [Number(tg.id)] });
      forgetProcessMemory();
      await tagProvider.delete!(tg.id, tg.outs);
      expect(await list("tags")).toHaveLength(1);
      await ctx().api.request("PATCH", `/api/mail_rules/${foreign.id}/`, { assign_tags: [] });
      forgetProcessMemory();
      await tagProvider.delete!(tg.id, tg.outs);
      expect(await list("tags")).toEqual([]);
      const left = `paperless-ngx: left tag "email-ingest" (id ${tg.id}) on ${ctx().url} in place: `;
      expect(stderr.lines()).toEqual([
        `${left}1 document(s) carry it`,
        `${left}mail rules this stack did not create assign it: "theirs" (id ${foreign.id})`,
      ]);
    });

    test("a failed delete names the object and the request", async () => {
      const tg = await tagProvider.create(t());
      forgetProcessMemory();
      proxy().inject({ kind: "status", status: 503, times: 100, method: "DELETE" });
      const e = await failure(tagProvider.delete!(tg.id, tg.outs));
      expect(e.message).toBe(`tag "email-ingest": injected fault: 503 (DELETE /api/tags/${tg.id}/ → 503)`);
    });
  });

  describe("secrets", () => {
    test("no error, check failure or diff carries the token or the password", async () => {
      const messages: string[] = [];
      const collect = async (p: Promise<unknown>) => {
        try {
          messages.push(JSON.stringify(await p));
        } catch (e) {
          messages.push(String((e as Error).stack));
        }
      };
      await collect(mailAccountProvider.check!({}, a({ imap_security: 7 })).then((x) => x.failures));
      await collect(mailAccountProvider.diff!("1", a(), a({ password: "other-password" })));
      proxy().inject({ kind: "status", status: 503, times: 100 });
      await collect(mailAccountProvider.create(a()));
      proxy().reset();
      proxy().inject({ kind: "reset", times: 100, method: "POST" });
      await collect(mailAccountProvider.create(a()));
      expect(messages.join("\n")).not.toMatch(new RegExp(`${ctx().server.token}|${PASSWORD}|other-password`));
      expect(messages).toHaveLength(4);
    });

    test("in the state, the password appears only under the outputs marked secret, and the token nowhere", async () => {
      const driver = new ProviderDriver();
      const config = prodConfig();
      await driver.up(
        mailboxResources("docs", config.mailboxes[0]!, config.mailserver, { ...config.paperless, url: ctx().url }, { password: PASSWORD }),
      );
      // Serialize the state the way the engine does: additionalSecretOutputs become ciphertext.
      const stored = [...driver.state.values()].map((e) =>
        Object.fromEntries(
          Object.entries(e.outs).map(([k, v]) => [k, (SECRET_OUTPUTS as readonly string[]).includes(k) ? { secure: "ciphertext" } : v]),
        ),
      );
      const text = JSON.stringify(stored);
      expect(text).not.toContain(ctx().server.token);
      expect(text).not.toContain(PASSWORD);
      expect(stored).toHaveLength(7);
    });
  });
}
