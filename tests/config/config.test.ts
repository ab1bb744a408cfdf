// Validation of the typed sender list: every error class, with the exact path, all at once.
import { mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { parse } from "yaml";
import { readFileSync } from "fs";
import { ConfigError, parseConfig } from "../../core/config";
import { fromRuntime, fromStackFile, loadStackFile } from "../../core/stackConfig";
import { PROD_STACK_FILE, prodConfig } from "../support/prodConfig";

const base = () => ({
  mailboxes: [{ address: "docs@example.org", senders: [{ address: "a@example.net", user: "alice" }] }],
  mailserver: { imapHost: "imap.example.org" },
  paperless: { url: "http://paperless.example.org" },
});

function problems(raw: unknown): string[] {
  const result = parseConfig(raw);
  if (result.ok) throw new Error("expected the config to be rejected");
  return result.problems;
}

describe("the production stack", () => {
  it("validates and reproduces the production sender -> owner map", () => {
    const config = prodConfig();
    expect(config.mailboxes).toHaveLength(1);
    const docs = config.mailboxes[0]!;
    expect(docs.address).toBe("docs@viktorbarzin.me");
    expect(docs.senders.map((s) => [s.address, s.user, s.ruleName])).toEqual([
      ["me@viktorbarzin.me", "root", "forward: Viktor (me@)"],
      ["vbarzin@gmail.com", "root", "forward: Viktor (gmail)"],
      ["viktorbarzin@meta.com", "root", "forward: Viktor (meta)"],
      ["ancaelena98@gmail.com", "anca", "forward: Anca"],
      ["emil.barzin@gmail.com", "emo", "forward: Emo"],
    ]);
    expect(config.mailserver).toMatchObject({ namespace: "mailserver", configMap: "mailserver.config", imapPort: 993, imapSecurity: "ssl" });
    expect(config.paperless.url).toBe("http://paperless-ngx.paperless-ngx.svc.cluster.local");
  });
});

describe("defaults", () => {
  it("fills sensible defaults for optional settings", () => {
    const result = parseConfig(base());
    if (!result.ok) throw new Error(result.problems.join("\n"));
    const mailbox = result.config.mailboxes[0]!;
    expect(mailbox).toMatchObject({ accountName: "docs@example.org", tag: "email-ingest", processedFolder: "Processed", maximumAge: 30 });
    expect(mailbox.senders[0]).toMatchObject({ label: "a@example.net", ruleName: "forward: a@example.net", order: 100, tags: ["email-ingest"], requireAuthentication: false });
    expect(result.config.vault).toEqual({ mount: "secret", pathPrefix: "paperless-mail-ingest" });
  });

  it("lower-cases addresses and keeps the ingest tag first without repeating it", () => {
    const raw = base();
    raw.mailboxes[0]!.senders[0] = { address: "A@Example.NET", user: "alice", tags: ["bank", "email-ingest"] } as never;
    const result = parseConfig(raw);
    if (!result.ok) throw new Error(result.problems.join("\n"));
    expect(result.config.mailboxes[0]!.senders[0]).toMatchObject({ address: "a@example.net", tags: ["email-ingest", "bank"] });
  });
});

describe("each error class names the value and its place", () => {
  it.each([
    ["a malformed address", (r: any) => (r.mailboxes[0].senders[0].address = "ancaelena98-at-gmail.com"),
      'mailboxes[0].senders[0].address: "ancaelena98-at-gmail.com" is not an email address'],
    ["an address with a quote", (r: any) => (r.mailboxes[0].senders[0].address = 'a"b@example.net'),
      'mailboxes[0].senders[0].address: "a\\"b@example.net" is not an email address'],
    ["a malformed mailbox address", (r: any) => (r.mailboxes[0].address = "docs"),
      'mailboxes[0].address: "docs" is not an email address'],
    ["a mailbox address that cannot name Kubernetes objects", (r: any) => (r.mailboxes[0].address = "docs+bank@example.org"),
      `mailboxes[0].address: "docs+bank@example.org" cannot be an ingest mailbox: before the @ only letters, digits, '.' and '-' (the address names Kubernetes objects)`],
    ["a processed folder that reads as an option", (r: any) => (r.mailboxes[0].processedFolder = "--all"),
      `mailboxes[0].processedFolder: "--all" must not start with '-'`],
    ["a duplicate sender in another case", (r: any) => r.mailboxes[0].senders.push({ address: "A@EXAMPLE.net", user: "bob" }),
      'mailboxes[0].senders[1].address: "A@EXAMPLE.net" duplicates mailboxes[0].senders[0].address (addresses compare case-insensitively)'],
    ["a sender that is an ingest mailbox", (r: any) => r.mailboxes[0].senders.push({ address: "Docs@example.org", user: "bob" }),
      'mailboxes[0].senders[1].address: "Docs@example.org" is itself an ingest mailbox (mailboxes[0]); mail from it would loop'],
    ["an empty sender list", (r: any) => (r.mailboxes[0].senders = []),
      "mailboxes[0].senders: [] must list at least one sender"],
    ["no mailboxes", (r: any) => (r.mailboxes = []),
      "mailboxes: [] must list at least one ingest mailbox"],
    ["a typo in a sender key", (r: any) => (r.mailboxes[0].senders[0].lable = "x"),
      "mailboxes[0].senders[0].lable: unknown key (check the spelling)"],
    ["a typo in a top-level key", (r: any) => (r.mailserverr = {}),
      "mailserverr: unknown key (check the spelling)"],
    ["a bad username", (r: any) => (r.mailboxes[0].senders[0].user = "anca elena"),
      'mailboxes[0].senders[0].user: "anca elena" is not a paperless username (letters, digits and @.+-_ only, at most 150)'],
    ["a missing username", (r: any) => delete r.mailboxes[0].senders[0].user,
      "mailboxes[0].senders[0].user: is required"],
    ["a wrong type", (r: any) => (r.mailboxes[0].senders[0].requireAuthentication = "yes"),
      'mailboxes[0].senders[0].requireAuthentication: "yes" should be boolean'],
    ["an order out of range", (r: any) => (r.mailboxes[0].senders[0].order = 40000),
      "mailboxes[0].senders[0].order: 40000 Too big: expected number to be <=32767"],
    ["a duplicate mailbox", (r: any) => r.mailboxes.push({ address: "DOCS@example.org", senders: [{ address: "b@example.net", user: "bob" }] }),
      'mailboxes[1].address: "DOCS@example.org" is already mailboxes[0].address'],
    ["a rule name taken twice for one owner", (r: any) => r.mailboxes[0].senders.push({ address: "b@example.net", user: "alice", label: "a@example.net" }),
      'mailboxes[0].senders[1].label: rule name "forward: a@example.net" for user "alice" is already used by mailboxes[0].senders[0] (paperless rule names are unique per owner)'],
    ["a control character in a label", (r: any) => (r.mailboxes[0].senders[0].label = "a\nb"),
      'mailboxes[0].senders[0].label: "a\\nb" contains a control character'],
    ["a bad URL", (r: any) => (r.paperless.url = "paperless.local"),
      'paperless.url: "paperless.local" is not an http(s) URL'],
    ["a missing mailserver host", (r: any) => delete r.mailserver.imapHost,
      "mailserver.imapHost: is required"],
    ["a maximumAge paperless cannot store", (r: any) => { r.mailboxes[0].maximumAge = 32768; },
      "mailboxes[0].maximumAge: 32768 is more than 32767 days, the most paperless stores (maximum_age is a positive small integer)"],
  ])("%s", (_, mutate, expected) => {
    const raw = base();
    mutate(raw);
    expect(problems(raw)).toEqual([expected]);
  });

  it("refuses senders one of whose addresses is inside another's (paperless's filter_from is a substring match)", () => {
    const raw: any = base();
    raw.mailboxes[0].senders = [
      { address: "ann@gmail.com", user: "anca" },
      { address: "JoAnn@gmail.com", user: "emo" },
      { address: "ann@gmail.co", user: "emo" }, // a domain prefix is inside too
      { address: "bob@gmail.com", user: "bob" },
    ];
    const why = "paperless matches a rule's filter_from as a substring of From (IMAP SEARCH FROM)";
    expect(problems(raw)).toEqual([
      `mailboxes[0].senders[0].address: "ann@gmail.com" contains mailboxes[0].senders[2].address "ann@gmail.co": ${why}, so the rule of "ann@gmail.co" would also take mail from "ann@gmail.com" and file it as that sender's; list only addresses neither of which contains the other`,
      `mailboxes[0].senders[1].address: "joann@gmail.com" contains mailboxes[0].senders[2].address "ann@gmail.co": ${why}, so the rule of "ann@gmail.co" would also take mail from "joann@gmail.com" and file it as that sender's; list only addresses neither of which contains the other`,
      `mailboxes[0].senders[1].address: "joann@gmail.com" contains mailboxes[0].senders[0].address "ann@gmail.com": ${why}, so the rule of "ann@gmail.com" would also take mail from "joann@gmail.com" and file it as that sender's; list only addresses neither of which contains the other`,
    ]);
    // Another mailbox has its own account and rules: the same pair there is no overlap.
    const two: any = base();
    two.mailboxes.push({ address: "scans@example.org", senders: [{ address: "joann@gmail.com", user: "emo" }] });
    two.mailboxes[0].senders = [{ address: "ann@gmail.com", user: "anca" }];
    expect(parseConfig(two).ok).toBe(true);
  });

  it("reports every problem at once, schema and cross-field alike", () => {
    const raw: any = base();
    raw.mailboxes[0].senders.push(
      { address: "bad-address", user: "bob" },
      { address: "A@example.net", user: "carol" },
      { address: "c@example.net", user: "bad user", colour: "red" },
    );
    expect(problems(raw)).toEqual([
      'mailboxes[0].senders[1].address: "bad-address" is not an email address',
      'mailboxes[0].senders[3].user: "bad user" is not a paperless username (letters, digits and @.+-_ only, at most 150)',
      "mailboxes[0].senders[3].colour: unknown key (check the spelling)",
      'mailboxes[0].senders[2].address: "A@example.net" duplicates mailboxes[0].senders[0].address (addresses compare case-insensitively)',
    ]);
  });
});

describe("stack files", () => {
  const dir = mkdtempSync(join(tmpdir(), "stack-"));
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it("rejects a secret stored in clear, and unknown project keys, naming the file", () => {
    const prod = parse(readFileSync(PROD_STACK_FILE, "utf8"));
    prod.config["paperless-mail-ingest:paperlessToken"] = "0123456789abcdef";
    prod.config["paperless-mail-ingest:mailboxPasswords"] = { "docs@viktorbarzin.me": { secure: "v1:abc" }, "x@y.z": "hunter2" };
    prod.config["paperless-mail-ingest:sender"] = [];
    prod.config["kubernetes:context"] = "prod";
    const path = write("Pulumi.clear.yaml", JSON.stringify(prod));
    let error: unknown;
    try { loadStackFile(path); } catch (e) { error = e; }
    expect(error).toBeInstanceOf(ConfigError);
    const err = error as ConfigError;
    expect(err.source).toBe(path);
    expect(err.problems).toEqual([
      "paperlessToken: is stored in clear; set it with `pulumi config set --secret` (or the environment) instead",
      "mailboxPasswords.x@y.z: is stored in clear; set it with `pulumi config set --secret` (or the environment) instead",
      "paperless-mail-ingest:sender: unknown config key (known: mailboxes, mailserver, paperless, vault, paperlessToken, mailboxPasswords)",
    ]);
    expect(err.message).not.toContain("0123456789abcdef");
    expect(err.message).not.toContain("hunter2");
  });

  it("accepts encrypted secrets", () => {
    const prod = parse(readFileSync(PROD_STACK_FILE, "utf8"));
    prod.config["paperless-mail-ingest:paperlessToken"] = { secure: "v1:abc" };
    expect(loadStackFile(write("Pulumi.enc.yaml", JSON.stringify(prod))).mailboxes).toHaveLength(1);
  });

  it("names malformed YAML and a file without config", () => {
    expect(() => loadStackFile(write("Pulumi.broken.yaml", "config:\n  a: [\n"))).toThrow(/Pulumi\.broken\.yaml.*cannot read the stack file/s);
    expect(() => loadStackFile(write("Pulumi.empty.yaml", "foo: 1\n"))).toThrow(/has no `config:` map/);
    expect(() => loadStackFile(join(dir, "missing.yaml"))).toThrow(/missing\.yaml.*cannot read the stack file/s);
  });

  it("reads the Pulumi runtime's config the same way as the stack file", () => {
    const prod = parse(readFileSync(PROD_STACK_FILE, "utf8")).config as Record<string, unknown>;
    const runtime = Object.fromEntries(Object.entries(prod).map(([k, v]) => [k, JSON.stringify(v)]));
    runtime["paperless-mail-ingest:paperlessToken"] = "decrypted-token";
    runtime["paperless-mail-ingest:mailboxes2"] = "[]";
    runtime["vault:address"] = "https://vault";
    const fromRt = fromRuntime(runtime);
    expect(fromRt.raw).toEqual(fromStackFile(prod).raw);
    expect(fromRt.problems).toEqual([expect.stringContaining("paperless-mail-ingest:mailboxes2: unknown config key")]);
  });
});
