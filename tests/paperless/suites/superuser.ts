// Only a superuser's token is used: paperless shows anyone else only some objects, and "not
// visible" must never pass for "gone". A real non-superuser with every mail, tag and user
// permission is refused by every operation, naming the user, and nothing changes.
import { prodConfig } from "../../support/prodConfig";
import type { Ctx } from "../context";
import { mailboxResources, ProviderDriver } from "../providerDriver";
import { MAIL_TAG_USER_PERMISSIONS, userWithPermissions } from "../../support/paperless/users";
import { failure } from "../support";

export function superuserTests(ctx: () => Ctx): void {
  const config = prodConfig();
  const desired = () =>
    mailboxResources(
      "docs",
      config.mailboxes[0]!,
      config.mailserver,
      { ...config.paperless, url: ctx().url },
      { password: "superuser-suite-password" },
    );

  /** Runs `fn` with `token` as the providers' token (PAPERLESS_API_TOKEN). */
  async function withToken<T>(token: string, fn: () => Promise<T>): Promise<T> {
    const saved = process.env.PAPERLESS_API_TOKEN;
    process.env.PAPERLESS_API_TOKEN = token;
    try {
      return await fn();
    } finally {
      process.env.PAPERLESS_API_TOKEN = saved;
    }
  }

  test("a non-superuser with the mail, tag and user permissions is refused by preview, up, refresh and destroy; server and state untouched", async () => {
    const driver = new ProviderDriver();
    await driver.up(desired()); // as the superuser
    const clerk = await userWithPermissions(ctx().server, `clerk${Date.now()}`, MAIL_TAG_USER_PERMISSIONS);
    // The user sees some objects (its own permissions hold), just not the rules others own.
    const seen = await fetch(`${ctx().server.url}/api/mail_rules/`, { headers: { Authorization: `Token ${clerk.token}` } });
    expect(seen.status).toBe(200);
    const server = await ctx().api.snapshot();
    const state = JSON.stringify([...driver.state.values()].map((e) => [e.name, e.id, e.outs]));
    ctx().proxy.reset();

    const refused =
      /^(mail account|mail rule|tag) "[^"]+": the API token from PAPERLESS_API_TOKEN belongs to paperless user "clerk\d+", who is not a superuser\. The program must see every mail account, mail rule, tag and user /;
    await withToken(clerk.token, async () => {
      const preview = await failure(driver.preview(desired()));
      expect(preview.message).toMatch(refused);
      // Asked once for the whole preview, not per resource.
      expect(ctx().proxy.count("GET", "/api/ui_settings/")).toBe(1);
      expect((await failure(driver.up(desired()))).message).toMatch(refused);
      expect((await failure(driver.refresh())).message).toMatch(refused);
      expect((await failure(driver.destroy())).message).toMatch(refused);
    });
    expect(ctx().proxy.writes()).toEqual([]);
    expect(await ctx().api.snapshot()).toBe(server);
    expect(JSON.stringify([...driver.state.values()].map((e) => [e.name, e.id, e.outs]))).toBe(state);
  });

  test("a user refused even its own UI settings is refused too, and the message says where the token came from", async () => {
    const bare = await userWithPermissions(ctx().server, `bare${Date.now()}`, []);
    const e = await withToken(bare.token, () => failure(new ProviderDriver().preview(desired())));
    expect(e.message).toMatch(
      /^(mail account|mail rule|tag) "[^"]+": the API token from PAPERLESS_API_TOKEN belongs to a user who is not a paperless superuser \(paperless refused it its own settings: GET \/api\/ui_settings\/ → 403\)\. /,
    );
    expect(ctx().proxy.writes()).toEqual([]);
  });
}
