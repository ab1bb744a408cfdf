// Bad input on the paperless side gives one clear message naming the cause and the fix, at
// preview, and leaves nothing half-made: the driver checks every resource before it writes, as
// `pulumi up` previews before it applies.
import { createServer } from "node:net";
import type { Mailbox } from "../../../core/types";
import { prodConfig } from "../../support/prodConfig";
import type { Ctx } from "../context";
import { mailboxResources, ProviderDriver } from "../providerDriver";
import { failure } from "../support";

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export function badInputTests(ctx: () => Ctx): void {
  const config = prodConfig();
  const docs = config.mailboxes[0]!;

  async function up(opts: { mailbox?: Mailbox; url?: string } = {}) {
    const resources = mailboxResources(
      "docs",
      opts.mailbox ?? docs,
      config.mailserver,
      { ...config.paperless, url: opts.url ?? ctx().url },
      { password: "mailbox-password" },
    );
    return failure(new ProviderDriver().up(resources));
  }

  test("an unknown paperless user stops the preview, naming the user, the sender's rule and the fix; nothing is written", async () => {
    const mailbox = { ...docs, senders: docs.senders.map((s) => (s.user === "anca" ? { ...s, user: "anka" } : s)) };
    const e = await up({ mailbox });
    expect(e.message).toContain('docs-rule-ancaelena98@gmail.com: owner: paperless user "anka" does not exist on');
    expect(e.message).toContain('(did you mean "anca"?); create the user in paperless-ngx or fix the sender\'s `user` in the stack config');
    expect(ctx().proxy.writes()).toEqual([]);
  });

  test("paperless unreachable names the URL and the fix", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const e = await up({ url });
    expect(e.message).toContain(`paperless-ngx at ${url} did not answer: check \`paperless.url\` in the stack config`);
    expect(e.message).toMatch(/connection failed \(ECONNREFUSED\)/);
  });

  test("a rejected token (401) says so and how to set a new one, without the token; nothing is written", async () => {
    const saved = process.env.PAPERLESS_API_TOKEN;
    process.env.PAPERLESS_API_TOKEN = "expired-token-123456";
    try {
      const e = await up();
      expect(e.message).toContain("Invalid token.");
      expect(e.message).toContain("→ 401); the API token from PAPERLESS_API_TOKEN was rejected");
      expect(e.message).not.toContain("expired-token-123456");
      expect(ctx().proxy.writes()).toEqual([]);
    } finally {
      process.env.PAPERLESS_API_TOKEN = saved;
    }
  });

  test("a rule name the same owner already uses on another account stops the preview; nothing is written", async () => {
    const { api } = ctx();
    const other = await api.post("/api/mail_accounts/", {
      name: "receipts@viktorbarzin.me",
      imap_server: "imap",
      username: "receipts",
      password: "p",
    });
    await api.post("/api/mail_rules/", {
      name: "forward: Anca",
      account: other.id,
      owner: ctx().userId("anca"),
      filter_from: "someone@example.com",
    });
    ctx().proxy.reset();
    const e = await up();
    expect(e.message).toMatch(
      /docs-rule-ancaelena98@gmail.com: a rule with this name and owner "anca" already exists on mail account "receipts@viktorbarzin\.me" \(rule id \d+\), which is not this sender's on another mailbox of this stack; rename or remove it/,
    );
    expect(ctx().proxy.writes()).toEqual([]);
    expect((await api.list("/api/mail_accounts/")).map((a) => a.name)).toEqual(["receipts@viktorbarzin.me"]);
  });
}
