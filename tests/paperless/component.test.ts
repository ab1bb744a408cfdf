// PaperlessMailbox under Pulumi's mocks for the production config: every dynamic resource is
// constructed, named after its sender, wired to its dependencies; the password travels only
// secret-wrapped, and the API token is no input at all.
import * as pulumi from "@pulumi/pulumi";
import { PaperlessMailbox } from "../../components/paperlessMailbox";
import { fieldsOf } from "../support/packedFields";
import { isSecretValue, unwrapSecrets, valueOf } from "../support/mockValues";
import { prodConfig } from "../support/prodConfig";

const PASSWORD = "mock-mailbox-password-c0ffee";

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  id: number;
}
const registered: Registered[] = [];
let nextId = 40;

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const id = nextId++;
        registered.push({ type: args.type, name: args.name, inputs: args.inputs, id });
        return { id: String(id), state: { ...args.inputs, paperlessId: id } };
      },
      call: () => ({}),
    },
    "paperless-mail-ingest",
    "prod",
    false,
  );
});

// The engine stores only a secret input's ciphertext.
const isSecret = isSecretValue;
/** A resource's fields as its provider sees them (a rule's are packed into `spec`). */
const fields = (r: Registered) => fieldsOf(r.type, unwrapSecrets(r.inputs) as Record<string, unknown>);
const asStored = (inputs: Record<string, unknown>) =>
  JSON.stringify(Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, isSecret(v) ? "[ciphertext]" : v])));

test("PaperlessMailbox for the production config", async () => {
  const config = prodConfig();
  const mailbox = config.mailboxes[0]!;
  // Plain strings on purpose: the component itself must make them secret.
  const mb = new PaperlessMailbox("docs", { mailbox, mailserver: config.mailserver, paperless: config.paperless, password: PASSWORD });
  const [accountId, ruleIds, fingerprint] = await Promise.all([valueOf(mb.accountId), valueOf(mb.ruleIds), valueOf(mb.rulesFingerprint)]);

  const byType = (t: string) => registered.filter((r) => r.type === `pulumi-nodejs:dynamic/paperless:Paperless${t}`);
  expect(registered.find((r) => r.type === "paperless-mail-ingest:paperless:PaperlessMailbox")?.name).toBe("docs");
  expect(byType("MailAccount").map((r) => r.name)).toEqual(["docs-account"]);
  expect(byType("Tag").map((r) => r.name)).toEqual(["docs-tag-email-ingest"]);
  expect(byType("MailRule").map((r) => r.name)).toEqual(mailbox.senders.map((s) => `docs-rule-${s.address}`));

  const account = byType("MailAccount")[0]!;
  expect(accountId).toBe(account.id);
  expect(Object.keys(ruleIds).sort()).toEqual(mailbox.senders.map((s) => s.address).sort());
  const ruleBySender = new Map(byType("MailRule").map((r) => [fields(r).filter_from, r.id]));
  expect(Object.entries(ruleIds).every(([sender, id]) => ruleBySender.get(sender) === id)).toBe(true);
  expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);

  for (const r of [...byType("MailAccount"), ...byType("Tag"), ...byType("MailRule")]) {
    expect("token" in r.inputs).toBe(false); // read by the provider at call time
    expect(typeof r.inputs.__provider).toBe("string"); // the shim naming the provider
    expect(asStored(r.inputs)).not.toContain(PASSWORD);
  }
  expect(isSecret(account.inputs.password)).toBe(true);
  expect(fields(byType("MailRule").find((r) => r.name === "docs-rule-ancaelena98@gmail.com")!)).toMatchObject({
    name: "forward: Anca",
    account: "docs@viktorbarzin.me",
    owner: "anca",
    filter_from: "ancaelena98@gmail.com",
    action: 2,
    action_parameter: "Processed",
    assign_tags: ["email-ingest"],
  });
  expect(JSON.stringify([accountId, ruleIds, fingerprint])).not.toContain(PASSWORD);
});

test("the fingerprint changes iff a rule's declared state changes", async () => {
  const config = prodConfig();
  const mailbox = config.mailboxes[0]!;
  const fp = (m: typeof mailbox, url = config.paperless.url) =>
    valueOf(
      new PaperlessMailbox(`fp${nextId}`, {
        mailbox: m,
        mailserver: config.mailserver,
        paperless: { ...config.paperless, url },
        password: PASSWORD,
      }).rulesFingerprint,
    );
  const base = await fp(mailbox);
  expect(await fp(mailbox)).toBe(base);
  expect(await fp(mailbox, "http://other.example")).toBe(base); // where it lives is not the rule's state
  expect(await fp({ ...mailbox, senders: mailbox.senders.map((s, i) => (i === 3 ? { ...s, user: "emo" } : s)) })).not.toBe(base);
  expect(await fp({ ...mailbox, senders: mailbox.senders.slice(1) })).not.toBe(base);
});
