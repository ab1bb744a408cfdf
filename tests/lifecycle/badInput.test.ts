// Bad input anywhere gives one clear message naming the cause and the fix, at preview, and
// leaves nothing half-made: the driver checks every resource before it writes, as `pulumi up`
// previews before it applies. (The Vault cases are in tests/vault; config shape in tests/config.)
import { mkdtempSync, writeFileSync } from "fs";
import { createServer } from "net";
import { tmpdir } from "os";
import { join } from "path";
import { loadStackFile } from "../../core/stackConfig";
import type { Mailbox } from "../../core/types";
import { startPaperlessEmulator, type PaperlessEmulator } from "../paperless/paperlessEmulator";
import { mailboxResources, ProviderDriver } from "../paperless/providerDriver";
import { failure, fastHttp } from "../paperless/support";
import { prodConfig, prodUsers } from "../support/prodConfig";

fastHttp();

const config = prodConfig();
const docs = config.mailboxes[0]!;
let emu: PaperlessEmulator;
beforeEach(async () => { emu = await startPaperlessEmulator({ users: prodUsers() }); });
afterEach(() => emu.close());

async function up(opts: { mailbox?: Mailbox; url?: string; token?: string } = {}) {
  const resources = mailboxResources("docs", opts.mailbox ?? docs, config.mailserver,
    { ...config.paperless, url: opts.url ?? emu.url }, { token: opts.token ?? emu.token, password: "mailbox-password" });
  return failure(new ProviderDriver().up(resources));
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test("malformed stack YAML names the file, the line and what is wrong", () => {
  const path = join(mkdtempSync(join(tmpdir(), "bad-yaml-")), "Pulumi.prod.yaml");
  writeFileSync(path, "config:\n  paperless-mail-ingest:mailboxes:\n    - address: docs@example.org\n   senders: [\n");
  expect(() => loadStackFile(path)).toThrow(new RegExp(`^${path.replace(/[.]/g, "\\.")}: 1 problem\\(s\\)[\\s\\S]*cannot read the stack file: .*line 4`));
});

test("an unknown paperless user stops the preview, naming the user, the rule and the fix; nothing is written", async () => {
  const mailbox = { ...docs, senders: docs.senders.map((s) => (s.user === "anca" ? { ...s, user: "anka" } : s)) };
  const e = await up({ mailbox });
  expect(e.message).toContain('mail rule "forward: Anca": owner: paperless user "anka" does not exist');
  expect(e.message).toContain("create the user in paperless-ngx or fix the sender's `user` in the stack config");
  expect(emu.writes).toEqual([]);
});

test("paperless unreachable names the URL and the fix", async () => {
  const url = `http://127.0.0.1:${await closedPort()}`;
  const e = await up({ url });
  expect(e.message).toContain(`paperless-ngx at ${url} did not answer: check \`paperless.url\` in the stack config`);
  expect(e.message).toMatch(/connection failed \(ECONNREFUSED\)/);
});

test("a rejected token (401) says so and how to set a new one, without the token; nothing is written", async () => {
  const e = await up({ token: "expired-token-123456" });
  expect(e.message).toContain("Invalid token.");
  expect(e.message).toContain("→ 401); the API token was rejected: set a valid one with `pulumi config set --secret paperlessToken <token>`");
  expect(e.message).not.toContain("expired-token-123456");
  expect(emu.writes).toEqual([]);
});

test("a rule name the same owner already uses on another account stops the preview; nothing is written", async () => {
  const other = emu.addAccount({ name: "receipts@viktorbarzin.me", imap_server: "imap", username: "receipts", password: "p" });
  emu.addRule({ name: "forward: Anca", account: other.id, owner: emu.user("anca").id, filter_from: "someone@example.com" });
  emu.resetCounters();
  const writesBefore = emu.writes.length;
  const e = await up();
  expect(e.message).toMatch(/mail rule "forward: Anca": a rule with this name and owner "anca" already exists on another mail account \(rule id \d+, account id \d+\); rename or remove it/);
  expect(emu.writes.length).toBe(writesBefore);
  expect(emu.accounts.map((a) => a.name)).toEqual(["receipts@viktorbarzin.me"]);
});
