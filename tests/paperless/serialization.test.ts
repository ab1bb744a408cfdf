// The providers as the engine runs them: the shim a resource keeps in its state (providers/dynamic),
// evaluated as a module, loads the built provider, which is then driven through a lifecycle — and
// the text carries no secret.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { shimText } from "../../providers/dynamic/resource";
import { mailRuleProvider } from "../../providers/paperless/provider";
import { prodConfig, prodUsers } from "../support/prodConfig";
import { startPaperlessEmulator, type PaperlessEmulator } from "./paperlessEmulator";
import { mailboxResources, ProviderDriver, type Providers } from "./providerDriver";
import { fastHttp } from "./support";

fastHttp();

const PASSWORD = "serialized-mailbox-password";
let emu: PaperlessEmulator;
let dir: string;
beforeEach(async () => {
  emu = await startPaperlessEmulator({ users: prodUsers() });
  dir = mkdtempSync(join(tmpdir(), "paperless-provider-"));
});
afterEach(async () => {
  await emu.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What the engine's plugin process does with the text: load it as a module and call `handler()`
 * (in the project, as jest runs). Loaded through jest's require so it shares this test's globals
 * (and so its per-process cache). */
function load(text: string, name: string): pulumi.dynamic.ResourceProvider {
  const file = join(dir, `${name}.js`);
  writeFileSync(file, text);
  return (require(file) as { handler: () => pulumi.dynamic.ResourceProvider }).handler();
}

test("each provider serializes with no secret and no captured state, and the serialized providers run a lifecycle", async () => {
  // Use the providers first, so any state they kept in their closure would show up in the text.
  const config = prodConfig();
  const mailbox = config.mailboxes[0]!;
  const paperless = { ...config.paperless, url: emu.url };
  const secrets = { token: emu.token, password: PASSWORD };
  await new ProviderDriver().up(mailboxResources("warm", mailbox, config.mailserver, paperless, secrets));

  const texts = (["paperless:PaperlessMailAccount", "paperless:PaperlessMailRule", "paperless:PaperlessTag"] as const).map(shimText);
  for (const text of texts) {
    expect(text).not.toContain(emu.token);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(emu.url); // no memoized list or session captured
  }
  const providers: Providers = {
    account: load(texts[0]!, "account"),
    rule: load(texts[1]!, "rule"),
    tag: load(texts[2]!, "tag"),
  };
  expect(providers.rule).not.toBe(mailRuleProvider);

  // The serialized providers adopt what the warm-up made, then change, refresh and destroy it.
  const driver = new ProviderDriver();
  const steps = await driver.up(mailboxResources("docs", mailbox, config.mailserver, paperless, secrets, providers));
  expect(steps.every((s) => s.op === "create")).toBe(true);
  expect(emu.rules).toHaveLength(5); // adopted by name, nothing duplicated
  expect(emu.accounts).toHaveLength(1);

  // They share one per-process cache: a refresh lists each collection once for all three providers.
  emu.resetCounters();
  await driver.refresh();
  for (const c of ["mail_rules", "tags", "users"]) expect(emu.count(`GET /api/${c}/`)).toBe(1);
  expect(emu.count("GET /api/mail_accounts/")).toBe(2); // the list and the one version probe

  await driver.destroy();
  expect([emu.accounts, emu.rules, emu.tags]).toEqual([[], [], []]);
});
