// The production sender list through its whole life against the real server: create, add a
// sender, change an owner, remove a sender, refresh after a manual edit, destroy — asserted on the server.
import type { IngestConfig, Mailbox, Sender } from "../../../core/types";
import type { Row } from "../../support/paperless/admin";
import { prodConfig } from "../../support/prodConfig";
import type { Ctx } from "../context";
import { mailboxResources, ProviderDriver } from "../providerDriver";
import { capturedStderr } from "../support";

const PASSWORD = "correct horse battery staple";

export function lifecycleTests(ctx: () => Ctx): void {
  const config: IngestConfig = prodConfig();
  const resources = (mailbox: Mailbox) =>
    mailboxResources("docs", mailbox, config.mailserver, { ...config.paperless, url: ctx().url }, { password: PASSWORD });
  const withSenders = (mailbox: Mailbox, senders: Sender[]): Mailbox => ({ ...mailbox, senders });
  const list = (c: string) => ctx().api.list<Row & { username?: string }>(`/api/${c}/`);
  const stderr = capturedStderr();

  /** The server's rules as (name, filter_from, owner username, account name, tag names). */
  async function serverRules() {
    const [rules, users, accounts, tags] = await Promise.all(["mail_rules", "users", "mail_accounts", "tags"].map(list));
    return rules!
      .map((r) => ({
        name: r.name,
        filter_from: r.filter_from,
        owner: users!.find((u) => u.id === r.owner)?.username,
        account: accounts!.find((a) => a.id === r.account)?.name,
        tags: (r.assign_tags as number[]).map((t) => tags!.find((x) => x.id === t)?.name),
        action: r.action,
        action_parameter: r.action_parameter,
        order: r.order,
      }))
      .sort((a, b) => String(a.name).localeCompare(String(b.name)));
  }
  const storedPassword = async (name: string) =>
    (
      await ctx().server.manage([
        "shell",
        "-c",
        `from paperless_mail.models import MailAccount; print("PW " + MailAccount.objects.get(name=${JSON.stringify(name)}).password)`,
      ])
    ).stdout;

  test("production sender list: create, add, change owner, remove, refresh after a manual edit, destroy", async () => {
    const mailbox = config.mailboxes[0]!;
    const driver = new ProviderDriver();

    // 1. create
    const created = await driver.up(resources(mailbox));
    expect(created.every((s) => s.op === "create")).toBe(true);
    const accounts = await list("mail_accounts");
    expect(accounts).toHaveLength(1);
    expect(accounts[0]).toMatchObject({
      name: "docs@viktorbarzin.me",
      imap_server: "mailserver.mailserver.svc.cluster.local",
      imap_port: 993,
      imap_security: 2,
      username: "docs@viktorbarzin.me",
    });
    expect(await storedPassword("docs@viktorbarzin.me")).toContain(`PW ${PASSWORD}\n`);
    expect((await list("tags")).map((t) => [t.name, t.owner])).toEqual([["email-ingest", null]]);
    expect(await serverRules()).toEqual([
      {
        name: "forward: Anca",
        filter_from: "ancaelena98@gmail.com",
        owner: "anca",
        account: "docs@viktorbarzin.me",
        tags: ["email-ingest"],
        action: 2,
        action_parameter: "Processed",
        order: 100,
      },
      {
        name: "forward: Emo",
        filter_from: "emil.barzin@gmail.com",
        owner: "emo",
        account: "docs@viktorbarzin.me",
        tags: ["email-ingest"],
        action: 2,
        action_parameter: "Processed",
        order: 100,
      },
      {
        name: "forward: Viktor (gmail)",
        filter_from: "vbarzin@gmail.com",
        owner: "root",
        account: "docs@viktorbarzin.me",
        tags: ["email-ingest"],
        action: 2,
        action_parameter: "Processed",
        order: 100,
      },
      {
        name: "forward: Viktor (me@)",
        filter_from: "me@viktorbarzin.me",
        owner: "root",
        account: "docs@viktorbarzin.me",
        tags: ["email-ingest"],
        action: 2,
        action_parameter: "Processed",
        order: 100,
      },
      {
        name: "forward: Viktor (meta)",
        filter_from: "viktorbarzin@meta.com",
        owner: "root",
        account: "docs@viktorbarzin.me",
        tags: ["email-ingest"],
        action: 2,
        action_parameter: "Processed",
        order: 100,
      },
    ]);
    // A second up with nothing changed writes nothing.
    ctx().proxy.reset();
    expect((await driver.up(resources(mailbox))).every((s) => s.op === "same")).toBe(true);
    expect(ctx().proxy.writes()).toEqual([]);

    // 2. add a sender: exactly one create
    const extra: Sender = {
      ...mailbox.senders[3]!,
      address: "new.person@example.org",
      label: "New",
      ruleName: "forward: New",
      order: 105,
      user: "emo",
    };
    const added = withSenders(mailbox, [...mailbox.senders, extra]);
    ctx().proxy.reset();
    const addSteps = await driver.up(resources(added));
    expect(addSteps.filter((s) => s.op !== "same")).toEqual([{ op: "create", name: "docs-rule-new.person@example.org" }]);
    expect(
      ctx()
        .proxy.writes()
        .map((w) => `${w.method} ${w.path}`),
    ).toEqual(["POST /api/mail_rules/", expect.stringMatching(/^PATCH \/api\/mail_rules\/\d+\/$/)]);
    expect((await serverRules()).find((r) => r.name === "forward: New")).toMatchObject({
      filter_from: "new.person@example.org",
      owner: "emo",
    });

    // 3. change an owner: one PATCH of that rule, owner sent explicitly
    const anca = added.senders.findIndex((s) => s.user === "anca");
    const changed = withSenders(
      added,
      added.senders.map((s, i) => (i === anca ? { ...s, user: "emo" } : s)),
    );
    ctx().proxy.reset();
    const changeSteps = await driver.up(resources(changed));
    expect(changeSteps.filter((s) => s.op !== "same")).toEqual([{ op: "update", name: "docs-rule-ancaelena98@gmail.com" }]);
    expect(ctx().proxy.writes()).toHaveLength(1);
    expect(ctx().proxy.writes()[0]).toMatchObject({ method: "PATCH", body: { owner: ctx().userId("emo") } });
    expect((await serverRules()).find((r) => r.name === "forward: Anca")?.owner).toBe("emo");

    // 4. remove a sender: exactly one delete
    const removed = withSenders(
      changed,
      changed.senders.filter((s) => s.address !== "vbarzin@gmail.com"),
    );
    ctx().proxy.reset();
    const removeSteps = await driver.up(resources(removed));
    expect(removeSteps.filter((s) => s.op !== "same")).toEqual([{ op: "delete", name: "docs-rule-vbarzin@gmail.com" }]);
    expect((await serverRules()).map((r) => r.name)).toEqual([
      "forward: Anca",
      "forward: Emo",
      "forward: New",
      "forward: Viktor (me@)",
      "forward: Viktor (meta)",
    ]);

    // 5. someone edits a rule in the UI and deletes another: refresh sees both, up repairs them
    const rows = await list("mail_rules");
    const edited = rows.find((r) => r.name === "forward: Emo")!;
    await ctx().api.request("PATCH", `/api/mail_rules/${edited.id}/`, { filter_from: "someone@else.example", action: 3 });
    await ctx().api.request("DELETE", `/api/mail_rules/${rows.find((r) => r.name === "forward: New")!.id}/`);
    const refreshed = await driver.refresh();
    expect(refreshed.filter((s) => s.op === "gone")).toEqual([{ op: "gone", name: "docs-rule-new.person@example.org" }]);
    expect(driver.state.get("docs-rule-emil.barzin@gmail.com")!.outs).toMatchObject({ filter_from: "someone@else.example", action: 3 });
    const repair = await driver.up(resources(removed));
    expect(repair.filter((s) => s.op !== "same").sort((a, b) => a.name.localeCompare(b.name))).toEqual(
      [
        { op: "update", name: "docs-rule-emil.barzin@gmail.com" },
        { op: "create", name: "docs-rule-new.person@example.org" },
      ].sort((a, b) => a.name.localeCompare(b.name)),
    );
    expect((await serverRules()).find((r) => r.name === "forward: Emo")).toMatchObject({
      filter_from: "emil.barzin@gmail.com",
      action: 2,
      action_parameter: "Processed",
    });
    expect(await list("mail_rules")).toHaveLength(5);

    // 6. destroy: everything this program made is gone
    await driver.destroy();
    expect([await list("mail_accounts"), await list("mail_rules"), await list("tags")]).toEqual([[], [], []]);
    expect(driver.state.size).toBe(0);
  });

  test("a second mailbox with its own senders coexists, and destroying it leaves the first and the shared tag", async () => {
    const docs = config.mailboxes[0]!;
    const receipts: Mailbox = {
      ...docs,
      address: "receipts@viktorbarzin.me",
      localPart: "receipts",
      accountName: "receipts@viktorbarzin.me",
      senders: [{ ...docs.senders[0]!, ruleName: "forward: Viktor receipts", label: "Viktor receipts" }],
    };
    const d1 = new ProviderDriver();
    const d2 = new ProviderDriver();
    await d1.up(resources(docs));
    await d2.up(
      mailboxResources("receipts", receipts, config.mailserver, { ...config.paperless, url: ctx().url }, { password: "pw-receipts" }),
    );
    expect((await list("mail_accounts")).map((a) => a.name).sort()).toEqual(["docs@viktorbarzin.me", "receipts@viktorbarzin.me"]);
    expect(await list("tags")).toHaveLength(1); // adopted, not duplicated
    await d2.destroy();
    expect((await list("mail_accounts")).map((a) => a.name)).toEqual(["docs@viktorbarzin.me"]);
    expect(await list("mail_rules")).toHaveLength(5);
    expect((await list("tags")).map((t) => t.name)).toEqual(["email-ingest"]); // docs' rules still assign it
  });

  test("a sender's new address under the same label moves the rule: the old resource's delete leaves it alone", async () => {
    const mailbox = config.mailboxes[0]!;
    const driver = new ProviderDriver();
    await driver.up(resources(mailbox));
    const before = (await list("mail_rules")).find((r) => r.name === "forward: Anca")!;
    const moved = withSenders(
      mailbox,
      mailbox.senders.map((s) => (s.user === "anca" ? { ...s, address: "anca@new.example" } : s)),
    );
    const steps = await driver.up(resources(moved));
    expect(steps.filter((s) => s.op !== "same")).toEqual([
      { op: "create", name: "docs-rule-anca@new.example" },
      { op: "delete", name: "docs-rule-ancaelena98@gmail.com" },
    ]);
    expect((await list("mail_rules")).filter((r) => r.name === "forward: Anca")).toEqual([
      expect.objectContaining({ id: before.id, filter_from: "anca@new.example" }),
    ]);
    // The new entry found the rule by name, as it finds a hand-made one: it cannot tell them apart,
    // so it counts the rule as adopted, and destroy hands it back (README "Rollback") rather than
    // risk deleting a rule the stack did not make; the account stays with it.
    expect(driver.state.get("docs-rule-anca@new.example")!.outs.adopted).toEqual({ filter_from: "ancaelena98@gmail.com" });
    await driver.destroy();
    expect((await list("mail_rules")).map((r) => [r.id, r.filter_from])).toEqual([[before.id, "ancaelena98@gmail.com"]]);
    expect(await list("mail_accounts")).toHaveLength(1);
    // The rule first; the account and the tag after it, in either order.
    expect(stderr.lines()).toHaveLength(3);
    expect(stderr.lines()).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^paperless-ngx: left mail rule "forward: Anca" \(id \d+\) on \S+ in place: this stack adopted it \(it existed before, found by name\); the values it had then are put back \(filter_from\)$/,
        ),
        expect.stringMatching(
          /^paperless-ngx: left mail account "docs@viktorbarzin.me" \(id \d+\) on \S+ in place: paperless would delete with it the mail rules on it that this stack did not create: "forward: Anca" \(id \d+\)\. /,
        ),
        expect.stringMatching(
          /^paperless-ngx: left tag "email-ingest" \(id \d+\) on \S+ in place: mail rules this stack did not create assign it: "forward: Anca" \(id \d+\)$/,
        ),
      ]),
    );
  });
}
