// Destroy never deletes what the stack does not own (README "Rollback"): a rule someone added by
// hand to the stack's mail account keeps that account alive, and a hand-built setup the first `up`
// adopted is handed back as it was, each said on the output. Against the real server.
import type { Mailbox } from "../../../core/types";
import { unfinishedName } from "../../../providers/paperless/provider";
import type { Row } from "../../support/paperless/admin";
import { prodConfig } from "../../support/prodConfig";
import type { Ctx } from "../context";
import { mailboxResources, ProviderDriver } from "../providerDriver";
import { capturedStderr } from "../support";

const PASSWORD = "ownership-mailbox-password";

export function ownershipTests(ctx: () => Ctx): void {
  const config = prodConfig();
  const docs = config.mailboxes[0]!;
  const resources = (mailbox: Mailbox = docs) =>
    mailboxResources("docs", mailbox, config.mailserver, { ...config.paperless, url: ctx().url }, { password: PASSWORD });
  const list = (c: string) => ctx().api.list<Row>(`/api/${c}/`);
  const stderr = capturedStderr();

  /**
   * Accounts, rules and tags as the server holds them, ids included; the account's masked password
   * left out, and an empty text and null alike (paperless treats them alike, so the program keeps no such difference).
   */
  async function paperlessObjects(): Promise<unknown> {
    const strip = ({ user_can_change: _u, permissions: _p, document_count: _d, password: _pw, ...row }: Row) =>
      Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v === "" ? null : v]));
    const [accounts, rules, tags] = await Promise.all(["mail_accounts", "mail_rules", "tags"].map(list));
    return { accounts: accounts!.map(strip), rules: rules!.map(strip), tags: tags!.map(strip) };
  }

  test("a rule added by hand to the stack's account survives destroy: the account stays, and destroy says why and what to do", async () => {
    const driver = new ProviderDriver();
    await driver.up(resources());
    // Made by the stack: nothing to hand back, so nothing extra in the state.
    for (const entry of driver.state.values()) expect(entry.outs).not.toHaveProperty("adopted");
    const account = (await list("mail_accounts"))[0]!;
    const theirs = await ctx().api.post("/api/mail_rules/", { name: "scanner: invoices", account: account.id, filter_subject: "invoice" });

    await driver.destroy();
    expect(driver.state.size).toBe(0);
    expect((await list("mail_rules")).map((r) => [r.id, r.name])).toEqual([[theirs.id, "scanner: invoices"]]);
    expect((await list("mail_accounts")).map((a) => a.id)).toEqual([account.id]);
    expect(await list("tags")).toEqual([]); // ours, and nothing else assigns it
    expect(stderr.lines()).toEqual([
      `paperless-ngx: left mail account "docs@viktorbarzin.me" (id ${account.id}) on ${ctx().url} in place: ` +
        `paperless would delete with it the mail rules on it that this stack did not create: "scanner: invoices" (id ${theirs.id}). ` +
        "Move those rules to another mail account or delete them in paperless-ngx, then delete the account there",
    ]);
  });

  test("a rule a killed create left under its unfinished name is finished as the stack's own: not adopted, and destroy deletes it", async () => {
    const driver = new ProviderDriver();
    const desired = resources();
    await driver.up(desired.filter((d) => !d.name.includes("-rule-"))); // the account and the tag
    const account = (await list("mail_accounts"))[0]!;
    const anca = docs.senders.find((s) => s.user === "anca")!;
    // What the create's POST leaves when its answer never comes (a killed CLI), as tests/stack makes it for real.
    const left = await ctx().api.post("/api/mail_rules/", {
      name: unfinishedName(anca.ruleName),
      account: account.id,
      owner: ctx().userId("anca"),
      filter_from: anca.address,
    });
    await driver.up(desired);
    expect((await list("mail_rules")).filter((r) => r.id === left.id).map((r) => r.name)).toEqual([anca.ruleName]);
    expect(await list("mail_rules")).toHaveLength(docs.senders.length);
    expect(driver.state.get(`docs-rule-${anca.address}`)!.outs).not.toHaveProperty("adopted");
    await driver.destroy();
    expect([await list("mail_accounts"), await list("mail_rules"), await list("tags")]).toEqual([[], [], []]);
    expect(stderr.lines()).toEqual([]);
  });

  test("a hand-built setup adopted by the first up, then changed by a later up, is handed back by destroy as it was", async () => {
    const { api } = ctx();
    const root = ctx().userId("root");
    const account = await api.post("/api/mail_accounts/", {
      name: "docs@viktorbarzin.me",
      imap_server: "old.example",
      imap_port: 143,
      imap_security: 3,
      username: "docs",
      password: "hand-password",
    });
    const tag = await api.post("/api/tags/", { name: "Email-Ingest", owner: root });
    // The hand-made rules of the migration guide: same names and senders, set up a little differently.
    for (const [i, s] of docs.senders.entries()) {
      await api.post("/api/mail_rules/", {
        name: s.ruleName,
        account: account.id,
        owner: ctx().userId(s.user),
        filter_from: s.address,
        order: i + 1,
        action: 2,
        action_parameter: "Processed",
        assign_tags: i === 0 ? [] : [tag.id],
        ...(i === 3 ? { filter_subject: "invoice", action: 3 } : {}),
      });
    }
    const before = await paperlessObjects();

    const driver = new ProviderDriver();
    expect((await driver.up(resources())).every((s) => s.op === "create")).toBe(true);
    expect(await list("mail_rules")).toHaveLength(docs.senders.length); // adopted, not duplicated
    const outs = (name: string) => driver.state.get(name)!.outs;
    expect(outs("docs-account").adopted).toEqual({ imap_server: "old.example", imap_port: 143, imap_security: 3, username: "docs" });
    expect(outs("docs-tag-email-ingest").adopted).toEqual({ name: "Email-Ingest", owner: root });
    expect(outs("docs-rule-ancaelena98@gmail.com").adopted).toEqual({ order: 4, filter_subject: "invoice", action: 3 });
    expect(outs("docs-rule-me@viktorbarzin.me").adopted).toEqual({ order: 1, assign_tags: [] });

    // A later change of a field that matched at adoption: its value then is also one to put back.
    await driver.up(resources({ ...docs, maximumAge: 60 }));
    expect(outs("docs-rule-emil.barzin@gmail.com").adopted).toEqual({ order: 5, maximum_age: 30 });

    await driver.destroy();
    expect(driver.state.size).toBe(0);
    expect(await paperlessObjects()).toEqual(before);
    const left = stderr.lines();
    expect(left).toHaveLength(2 + docs.senders.length);
    expect(left).toContain(
      `paperless-ngx: left mail account "docs@viktorbarzin.me" (id ${account.id}) on ${ctx().url} in place: this stack adopted it ` +
        "(it existed before, found by name); the values it had then are put back (imap_server, imap_port, imap_security, username); " +
        "its password stays the one this stack set (paperless never shows the former one)",
    );
    expect(left).toContain(
      `paperless-ngx: left tag "email-ingest" (id ${tag.id}) on ${ctx().url} in place: this stack adopted it ` +
        "(it existed before, found by name); the values it had then are put back (name, owner)",
    );
  });
}
