// The providers as the engine runs them: the shim a resource keeps in its state (providers/dynamic),
// evaluated as a module, loads the built provider, which is then driven through a lifecycle — and
// the text carries no secret.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { shimText } from "../../../providers/dynamic/resource";
import { mailRuleProvider } from "../../../providers/paperless/provider";
import type { Row } from "../../support/paperless/admin";
import { prodConfig } from "../../support/prodConfig";
import type { Ctx } from "../context";
import { mailboxResources, ProviderDriver, type Providers } from "../providerDriver";
import { capturedStderr } from "../support";

const PASSWORD = "serialized-mailbox-password";

export function serializationTests(ctx: () => Ctx): void {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "paperless-provider-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const stderr = capturedStderr();

  /** What the engine's plugin process does with the text: load it as a module and call `handler()`
   * (in the project, as jest runs). Loaded through jest's require so it shares this test's globals
   * (and so its per-process cache). */
  function load(text: string, name: string): pulumi.dynamic.ResourceProvider {
    const file = join(dir, `${name}.js`);
    writeFileSync(file, text);
    return (require(file) as { handler: () => pulumi.dynamic.ResourceProvider }).handler();
  }

  test("each shim carries no secret and no state, and the providers it loads run a lifecycle together", async () => {
    // Use the providers first, so any state they kept would have a chance to show up.
    const config = prodConfig();
    const mailbox = config.mailboxes[0]!;
    const paperless = { ...config.paperless, url: ctx().url };
    await new ProviderDriver().up(mailboxResources("warm", mailbox, config.mailserver, paperless, { password: PASSWORD }));

    const texts = (["paperless:PaperlessMailAccount", "paperless:PaperlessMailRule", "paperless:PaperlessTag"] as const).map(shimText);
    for (const text of texts) {
      expect(text).not.toContain(ctx().server.token);
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(ctx().url);
    }
    // The built modules the shims load, not these.
    const providers: Providers = { account: load(texts[0]!, "account"), rule: load(texts[1]!, "rule"), tag: load(texts[2]!, "tag") };
    expect(providers.rule).not.toBe(mailRuleProvider);
    const list = (c: string) => ctx().api.list<Row>(`/api/${c}/`);

    // The loaded providers adopt what the warm-up made, then refresh and destroy it.
    const driver = new ProviderDriver();
    const steps = await driver.up(mailboxResources("docs", mailbox, config.mailserver, paperless, { password: PASSWORD }, providers));
    expect(steps.every((s) => s.op === "create")).toBe(true);
    expect(await list("mail_rules")).toHaveLength(5); // adopted by name, nothing duplicated
    expect(await list("mail_accounts")).toHaveLength(1);

    // They share one per-process cache: a refresh lists each collection once for all three providers.
    ctx().proxy.reset();
    await driver.refresh();
    for (const c of ["mail_accounts", "mail_rules", "tags", "users", "ui_settings"]) expect(ctx().proxy.count("GET", `/api/${c}/`)).toBe(1);

    // The account deleted by hand (its rules cascade): every delete then meets a 404 or no object,
    // which is "already gone", whichever provider's client the session was made by. The tag the
    // warm-up made is this driver's by adoption: it is handed back, not deleted.
    const account = (await list("mail_accounts"))[0]!;
    await ctx().api.request("DELETE", `/api/mail_accounts/${account.id}/`);
    await driver.destroy([
      "docs-rule-ancaelena98@gmail.com",
      "docs-account",
      ...[...driver.state.keys()].filter((k) => k !== "docs-account" && k !== "docs-rule-ancaelena98@gmail.com"),
    ]);
    expect([await list("mail_accounts"), await list("mail_rules"), (await list("tags")).map((t) => t.name)]).toEqual([
      [],
      [],
      ["email-ingest"],
    ]);
    expect(stderr.lines()).toEqual([
      expect.stringMatching(
        /^paperless-ngx: left tag "email-ingest" \(id \d+\) on \S+ in place: this stack adopted it \(it existed before, found by name\)$/,
      ),
    ]);
  });
}
