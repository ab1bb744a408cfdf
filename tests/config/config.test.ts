// Validation of the typed sender list: every error class, with the exact path, all at once.
import { mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { parse } from "yaml";
import { readFileSync } from "fs";
import { type ConfigError, isConfigError, parseConfig } from "../../stack/config";
import { mailboxResourceName } from "../../core/names";
import { reloaderEnvVar, sieveNames } from "../../core/sieveConfigMap";
import { fromRuntime, fromStackFile, readStackFile } from "../../stack/stackConfig";
import { VAULT_PROVIDER_KEYS } from "../../stack/vaultProviderKeys";
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
    expect(config.mailserver).toMatchObject({
      namespace: "mailserver",
      configMap: "mailserver.config",
      imapPort: 993,
      imapSecurity: "ssl",
    });
    expect(config.paperless.url).toBe("http://paperless-ngx.paperless-ngx.svc.cluster.local");
  });
});

describe("defaults", () => {
  it("fills sensible defaults for optional settings", () => {
    const result = parseConfig(base());
    if (!result.ok) throw new Error(result.problems.join("\n"));
    const mailbox = result.config.mailboxes[0]!;
    expect(mailbox).toMatchObject({ accountName: "docs@example.org", tag: "email-ingest", processedFolder: "Processed", maximumAge: 30 });
    expect(mailbox.senders[0]).toMatchObject({
      label: "a@example.net",
      ruleName: "forward: a@example.net",
      order: 100,
      tags: ["email-ingest"],
      requireAuthentication: false,
    });
    expect(result.config.vault).toEqual({ mount: "secret", pathPrefix: "paperless-mail-ingest" });
  });

  it("gives every sender the same default order, so removing one renumbers no other rule; an explicit order stays", () => {
    const senders = [
      { address: "a@example.net", user: "alice" },
      { address: "b@example.net", user: "bob", order: 7 },
      { address: "c@example.net", user: "bob" },
    ];
    const orders = (list: typeof senders) => {
      const raw = base();
      const result = parseConfig({ ...raw, mailboxes: [{ ...raw.mailboxes[0]!, ruleOrderStart: 300, senders: list }] });
      if (!result.ok) throw new Error(result.problems.join("\n"));
      return Object.fromEntries(result.config.mailboxes[0]!.senders.map((s) => [s.address, s.order]));
    };
    expect(orders(senders)).toEqual({ "a@example.net": 300, "b@example.net": 7, "c@example.net": 300 });
    expect(orders(senders.slice(1))).toEqual({ "b@example.net": 7, "c@example.net": 300 });
  });

  it("lower-cases addresses and puts the ingest tag first", () => {
    const raw = base();
    raw.mailboxes[0]!.senders[0] = { address: "A@Example.NET", user: "alice", tags: ["bank", "tax"] } as never;
    const result = parseConfig(raw);
    if (!result.ok) throw new Error(result.problems.join("\n"));
    expect(result.config.mailboxes[0]!.senders[0]).toMatchObject({ address: "a@example.net", tags: ["email-ingest", "bank", "tax"] });
  });
});

describe("each error class names the value and its place", () => {
  it.each([
    [
      "a malformed address",
      (r: any) => (r.mailboxes[0].senders[0].address = "ancaelena98-at-gmail.com"),
      'mailboxes[0].senders[0].address: "ancaelena98-at-gmail.com" is not an email address',
    ],
    [
      "an address with a quote",
      (r: any) => (r.mailboxes[0].senders[0].address = 'a"b@example.net'),
      'mailboxes[0].senders[0].address: "a\\"b@example.net" is not an email address',
    ],
    ["a malformed mailbox address", (r: any) => (r.mailboxes[0].address = "docs"), 'mailboxes[0].address: "docs" is not an email address'],
    [
      "a mailbox address that cannot name Kubernetes objects",
      (r: any) => (r.mailboxes[0].address = "docs+bank@example.org"),
      `mailboxes[0].address: "docs+bank@example.org" cannot be an ingest mailbox: before the @ only letters, digits, '-' and '.', each part between dots starting and ending with a letter or digit (the address names Kubernetes objects)`,
    ],
    [
      "a processed folder that reads as an option",
      (r: any) => (r.mailboxes[0].processedFolder = "--all"),
      `mailboxes[0].processedFolder: "--all" must not start with '-'`,
    ],
    [
      "a duplicate sender in another case",
      (r: any) => r.mailboxes[0].senders.push({ address: "A@EXAMPLE.net", user: "bob" }),
      'mailboxes[0].senders[1].address: "A@EXAMPLE.net" duplicates mailboxes[0].senders[0].address (addresses compare case-insensitively)',
    ],
    [
      "a sender that is an ingest mailbox",
      (r: any) => r.mailboxes[0].senders.push({ address: "Docs@example.org", user: "bob" }),
      'mailboxes[0].senders[1].address: "Docs@example.org" is itself an ingest mailbox (mailboxes[0]); mail from it would loop',
    ],
    ["an empty sender list", (r: any) => (r.mailboxes[0].senders = []), "mailboxes[0].senders: [] must list at least one sender"],
    ["no mailboxes", (r: any) => (r.mailboxes = []), "mailboxes: [] must list at least one ingest mailbox"],
    [
      "a typo in a sender key",
      (r: any) => (r.mailboxes[0].senders[0].lable = "x"),
      "mailboxes[0].senders[0].lable: unknown key (check the spelling)",
    ],
    ["a typo in a top-level key", (r: any) => (r.mailserverr = {}), "mailserverr: unknown key (check the spelling)"],
    [
      "a bad username",
      (r: any) => (r.mailboxes[0].senders[0].user = "anca elena"),
      'mailboxes[0].senders[0].user: "anca elena" is not a paperless username (letters, digits and @.+-_ only, at most 150)',
    ],
    ["a missing username", (r: any) => delete r.mailboxes[0].senders[0].user, "mailboxes[0].senders[0].user: is required"],
    [
      "a wrong type",
      (r: any) => (r.mailboxes[0].senders[0].requireAuthentication = "yes"),
      'mailboxes[0].senders[0].requireAuthentication: "yes" should be boolean',
    ],
    [
      "an order out of range",
      (r: any) => (r.mailboxes[0].senders[0].order = 40000),
      "mailboxes[0].senders[0].order: 40000 Too big: expected number to be <=32767",
    ],
    [
      "a duplicate mailbox",
      (r: any) => r.mailboxes.push({ address: "DOCS@example.org", senders: [{ address: "b@example.net", user: "bob" }] }),
      'mailboxes[1].address: "DOCS@example.org" is already mailboxes[0].address',
    ],
    [
      "a rule name taken twice for one owner",
      (r: any) => r.mailboxes[0].senders.push({ address: "b@example.net", user: "alice", label: "a@example.net" }),
      'mailboxes[0].senders[1].label: rule name "forward: a@example.net" for user "alice" is already used by mailboxes[0].senders[0] (paperless rule names are unique per owner)',
    ],
    [
      "a control character in a label",
      (r: any) => (r.mailboxes[0].senders[0].label = "a\nb"),
      'mailboxes[0].senders[0].label: "a\\nb" contains U+000A (a control character); remove it',
    ],
    ["a bad URL", (r: any) => (r.paperless.url = "paperless.local"), 'paperless.url: "paperless.local" is not an http(s) URL'],
    ["a missing mailserver host", (r: any) => delete r.mailserver.imapHost, "mailserver.imapHost: is required"],
    [
      "a maximumAge paperless cannot store",
      (r: any) => {
        r.mailboxes[0].maximumAge = 32768;
      },
      "mailboxes[0].maximumAge: 32768 is more than 32767 days, the most paperless stores (maximum_age is a positive small integer)",
    ],
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
    try {
      readStackFile(path);
    } catch (e) {
      error = e;
    }
    expect(isConfigError(error)).toBe(true);
    const err = error as ConfigError;
    expect(err.source).toBe(path);
    expect(err.problems).toEqual([
      "paperlessToken: is stored in clear; set it with `pulumi config set --secret` (or the environment) instead",
      "mailboxPasswords.x@y.z: is stored in clear; set it with `pulumi config set --secret` (or the environment) instead",
      "paperless-mail-ingest:sender: unknown config key (known: mailboxes, mailserver, paperless, vault, doctor, canary, paperlessToken, mailboxPasswords)",
    ]);
    expect(err.message).not.toContain("0123456789abcdef");
    expect(err.message).not.toContain("hunter2");
  });

  it("accepts encrypted secrets", () => {
    const prod = parse(readFileSync(PROD_STACK_FILE, "utf8"));
    prod.config["paperless-mail-ingest:paperlessToken"] = { secure: "v1:abc" };
    expect(readStackFile(write("Pulumi.enc.yaml", JSON.stringify(prod))).config.mailboxes).toHaveLength(1);
  });

  it("names malformed YAML and a file without config", () => {
    expect(() => readStackFile(write("Pulumi.broken.yaml", "config:\n  a: [\n"))).toThrow(
      /Pulumi\.broken\.yaml.*cannot read the stack file/s,
    );
    expect(() => readStackFile(write("Pulumi.empty.yaml", "foo: 1\n"))).toThrow(/has no `config:` map/);
    expect(() => readStackFile(join(dir, "missing.yaml"))).toThrow(/missing\.yaml.*cannot read the stack file/s);
  });

  it("reads the Pulumi runtime's config the same way as the stack file", () => {
    const prod = parse(readFileSync(PROD_STACK_FILE, "utf8")).config as Record<string, unknown>;
    const runtime = Object.fromEntries(Object.entries(prod).map(([k, v]) => [k, JSON.stringify(v)]));
    runtime["paperless-mail-ingest:paperlessToken"] = "decrypted-token";
    runtime["paperless-mail-ingest:mailboxes2"] = "[]";
    runtime["vault:address"] = "https://vault";
    const fromRt = fromRuntime(runtime, (key) => key === "paperless-mail-ingest:paperlessToken");
    expect(fromRt.raw).toEqual(fromStackFile(prod).raw);
    expect(fromRt.problems).toEqual([expect.stringContaining("paperless-mail-ingest:mailboxes2: unknown config key")]);
  });
});

describe("hostile configs", () => {
  const mailbox = (raw: any) => raw.mailboxes[0];
  const sender = (raw: any) => raw.mailboxes[0].senders[0];
  const accepted = (raw: unknown) => {
    const result = parseConfig(raw);
    if (!result.ok) throw new Error(result.problems.join("\n"));
    return result.config;
  };

  describe("authResultsHeader: only an Authentication-Results header", () => {
    const why =
      'is not an Authentication-Results header ("Authentication-Results" or a name ending in "-Authentication-Results", any case): ' +
      "requireAuthentication reads the receiving server's DKIM/DMARC verdict from it, and a header the sender writes, " +
      "such as Subject, would let a forger supply the verdict";
    it.each(["Subject", "From", "X-Spam-Status", "Authentication-Results-Forged", "Authentication-Results:", "-Authentication-Results"])(
      "refuses %s",
      (header) => {
        const raw = base();
        mailbox(raw).authResultsHeader = header;
        expect(problems(raw)).toEqual([`mailboxes[0].authResultsHeader: ${JSON.stringify(header)} ${why}`]);
      },
    );
    it.each(["Authentication-Results", "authentication-results", "X-Authentication-Results", "ARC-Authentication-Results"])(
      "accepts %s",
      (header) => {
        const raw = base();
        mailbox(raw).authResultsHeader = header;
        expect(accepted(raw).mailboxes[0]!.authResultsHeader).toBe(header);
      },
    );
  });

  describe("names derived from mailbox addresses: valid and one per mailbox", () => {
    const two = (a: string, b: string) => {
      const raw: any = base();
      raw.mailboxes = [
        { address: a, senders: [{ address: "a@example.net", user: "alice" }] },
        { address: b, senders: [{ address: "b@example.net", user: "bob" }] },
      ];
      return raw;
    };
    const shared =
      "Kubernetes names hold no '@', volume names no '.' and variable names neither '.' nor '-', so the two mailboxes " +
      "would share these objects (destroying one would remove the other's); use another address for one of them";

    it("refuses two addresses that differ only in '.' and '-', naming both", () => {
      expect(problems(two("a.b@example.org", "a-b@example.org"))).toEqual([
        'mailboxes[1].address: "a-b@example.org" gives the same volume name "sieve-a-b-at-example-org", Reloader variable ' +
          `"STAKATER_MAILSERVER_SIEVE_A_B_AT_EXAMPLE_ORG_CONFIGMAP" as mailboxes[0].address "a.b@example.org": ${shared}`,
      ]);
    });

    it("refuses two addresses whose '@' lands in the same place of a name", () => {
      expect(problems(two("a-at-b@example.org", "a@b-at-example.org"))).toEqual([
        'mailboxes[1].address: "a@b-at-example.org" gives the same Pulumi resource name "a-at-b-at-example.org", ConfigMap name ' +
          '"mailserver-sieve-a-at-b-at-example.org", ConfigMap key "a-at-b-at-example.org.dovecot.sieve", volume name ' +
          '"sieve-a-at-b-at-example-org", Reloader variable "STAKATER_MAILSERVER_SIEVE_A_AT_B_AT_EXAMPLE_ORG_CONFIGMAP" as ' +
          `mailboxes[0].address "a-at-b@example.org": ${shared}`,
      ]);
    });

    it("keeps production's names exactly", () => {
      const docs = prodConfig().mailboxes[0]!;
      const mount = sieveNames(docs, prodConfig().mailserver);
      expect([mailboxResourceName(docs), mount.configMapName, mount.key, mount.volumeName, reloaderEnvVar(mount.configMapName)]).toEqual([
        "docs-at-viktorbarzin.me",
        "mailserver-sieve-docs-at-viktorbarzin.me",
        "docs-at-viktorbarzin.me.dovecot.sieve",
        "sieve-docs-at-viktorbarzin-me",
        "STAKATER_MAILSERVER_SIEVE_DOCS_AT_VIKTORBARZIN_ME_CONFIGMAP",
      ]);
    });

    it.each([
      "..docs.@example.org",
      "docs.@example.org",
      ".docs@example.org",
      "docs..x@example.org",
      "docs.-x@example.org",
      "-docs@example.org",
    ])("refuses the local part of %s", (address) => {
      const raw = base();
      mailbox(raw).address = address;
      expect(problems(raw)).toEqual([
        `mailboxes[0].address: ${JSON.stringify(address)} cannot be an ingest mailbox: before the @ only letters, ` +
          "digits, '-' and '.', each part between dots starting and ending with a letter or digit (the address names Kubernetes objects)",
      ]);
    });

    it("refuses an address too long for its ConfigMap name, key and files, with each limit", () => {
      const raw = base();
      const address = `docs@${"d".repeat(60)}.${"e".repeat(60)}.${"f".repeat(60)}.${"g".repeat(50)}.org`;
      mailbox(raw).address = address;
      const configMap = `mailserver-sieve-${address.replace("@", "-at-")}`;
      const key = `${address.replace("@", "-at-")}.dovecot.sieve`;
      const subdomain =
        "a DNS subdomain (RFC 1123): at most 253 characters, lower-case letters, digits, '-' and '.', each part between " +
        "dots starting and ending with a letter or digit";
      expect(problems(raw)).toEqual([
        `mailboxes[0].address: "${address}" gives the sieve ConfigMap name "${configMap}", which must be ${subdomain} ` +
          `(it has ${configMap.length}): use a shorter address (or mailserver.deployment, its prefix)`,
        `mailboxes[0].address: "${address}" gives the ConfigMap key "${key}", which must be a ConfigMap key: at most 253 ` +
          `letters, digits, '-', '_' and '.', not '.' or '..' (it has ${key.length}): use a shorter address`,
        `mailboxes[0].address: "${address}" gives the file name "${address}.dovecot.sieve" (the sieve docker-mailserver reads in ` +
          `mailserver.configDir), which must be a file name of at most 255 bytes (it has ${address.length + 14}): use a shorter address`,
        `mailboxes[0].address: "${address}" gives the file name "${configMap}.configmap.yaml" (written by npm run render in mailserver/), ` +
          `which must be a file name of at most 255 bytes (it has ${configMap.length + 15}): use a shorter address (or mailserver.deployment, its prefix)`,
      ]);
    });

    it("accepts an address of 220 characters, the most whose every name fits, and names the first limit one more breaks", () => {
      const raw = base();
      const fits = `docs@${"d".repeat(60)}.${"e".repeat(60)}.${"f".repeat(60)}.${"g".repeat(28)}.org`;
      mailbox(raw).address = fits;
      expect(accepted(raw).mailboxes[0]!.address).toHaveLength(220);
      mailbox(raw).address = fits.replace("docs@", "docsx@");
      expect(problems(raw)).toEqual([
        expect.stringMatching(
          /^mailboxes\[0\]\.address: .* gives the file name ".*\.configmap\.yaml" \(written by npm run render in mailserver\/\), which must be a file name of at most 255 bytes \(it has 256\)/,
        ),
      ]);
    });

    it.each([
      [
        "mailserver.namespace",
        (r: any) => (r.mailserver.namespace = "n".repeat(64)),
        "namespace name: it must be a DNS label (RFC 1123): at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit (it has 64)",
      ],
      [
        "mailserver.container",
        (r: any) => (r.mailserver.container = "c".repeat(64)),
        "container name: it must be a DNS label (RFC 1123): at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit (it has 64)",
      ],
      [
        "mailserver.configMap",
        (r: any) => (r.mailserver.configMap = "mailserver..config"),
        "ConfigMap name: it must be a DNS subdomain (RFC 1123): at most 253 characters, lower-case letters, digits, '-' and '.', each part between dots starting and ending with a letter or digit",
      ],
      [
        "mailserver.accountsKey",
        (r: any) => (r.mailserver.accountsKey = "k".repeat(254)),
        "ConfigMap key: it must be a ConfigMap key: at most 253 letters, digits, '-', '_' and '.', not '.' or '..' (it has 254)",
      ],
    ])("refuses an invalid %s with the Kubernetes rule it breaks", (where, mutate, rule) => {
      const raw = base();
      mutate(raw);
      const [problem] = problems(raw);
      expect(problem).toMatch(new RegExp(`^${where.replace(".", "\\.")}: ".*" is not a valid `));
      expect(problem).toContain(rule);
    });

    it("refuses a Deployment name whose derived names do not fit, before anything is written", () => {
      const raw = base();
      const deployment = "d".repeat(235);
      (raw.mailserver as any).deployment = deployment;
      const configMap = `${deployment}-sieve-docs-at-example.org`;
      expect(problems(raw)).toEqual([
        `mailserver.deployment: "${deployment}" gives the file name "${deployment}.deployment-patch.yaml" (written by npm run render in ` +
          `mailserver/), which must be a file name of at most 255 bytes (it has ${deployment.length + 22}): use a shorter Deployment name`,
        expect.stringContaining(
          `mailboxes[0].address: "docs@example.org" gives the sieve ConfigMap name "${configMap}", which must be a DNS subdomain`,
        ),
        expect.stringContaining(
          `mailboxes[0].address: "docs@example.org" gives the file name "${configMap}.configmap.yaml" (written by npm run render in mailserver/)`,
        ),
      ]);
    });
  });

  describe("length limits of SMTP and paperless", () => {
    it("refuses a sender address over 254 characters (RFC 5321)", () => {
      const raw = base();
      const address = `${"a".repeat(243)}@example.net`;
      sender(raw).address = address;
      sender(raw).label = "long";
      expect(problems(raw)).toEqual([
        `mailboxes[0].senders[0].address: "${address}" is longer than 254 characters, the longest address SMTP carries (RFC 5321)`,
      ]);
    });

    it("refuses a rule name over paperless's 256 characters made from the address when no label is set", () => {
      const raw = base();
      const address = `${"a".repeat(242)}@example.net`; // 254: a valid address, but "forward: " + it is 263
      sender(raw).address = address;
      expect(problems(raw)).toEqual([
        `mailboxes[0].senders[0].address: "${address}" is also the rule's name (no label is set): ` +
          `"forward: ${address}" has 263 characters, over the 256 paperless holds; set a \`label\` of at most 247`,
      ]);
      sender(raw).label = "Anca";
      expect(accepted(raw).mailboxes[0]!.senders[0]!.ruleName).toBe("forward: Anca");
    });

    it("refuses tag names over paperless's 128 characters", () => {
      const raw = base();
      sender(raw).tags = ["t".repeat(129)];
      mailbox(raw).tag = "m".repeat(129);
      expect(problems(raw)).toEqual([
        `mailboxes[0].tag: "${"m".repeat(129)}" is longer than 128 characters`,
        `mailboxes[0].senders[0].tags[0]: "${"t".repeat(129)}" is longer than 128 characters`,
      ]);
      sender(raw).tags = ["t".repeat(128)];
      mailbox(raw).tag = "m".repeat(128);
      expect(accepted(raw).mailboxes[0]!.senders[0]!.tags).toEqual(["m".repeat(128), "t".repeat(128)]);
    });
  });

  describe("tags compare ignoring case", () => {
    it.each([
      [
        ["bank", "bank"],
        'mailboxes[0].senders[0].tags[1]: "bank" is mailboxes[0].senders[0].tags[0] again (tag names compare ignoring case, so both would be one paperless tag): list each tag once',
      ],
      [
        ["Bank", "bank"],
        'mailboxes[0].senders[0].tags[1]: "bank" is mailboxes[0].senders[0].tags[0] again (tag names compare ignoring case, so both would be one paperless tag): list each tag once',
      ],
      [
        ["email-ingest"],
        `mailboxes[0].senders[0].tags[0]: "email-ingest" is the mailbox's tag "email-ingest", which every rule of the mailbox gets anyway (tag names compare ignoring case): remove it`,
      ],
      [
        ["bank", "Email-Ingest"],
        `mailboxes[0].senders[0].tags[1]: "Email-Ingest" is the mailbox's tag "email-ingest", which every rule of the mailbox gets anyway (tag names compare ignoring case): remove it`,
      ],
    ])("refuses %j", (tags, expected) => {
      const raw = base();
      sender(raw).tags = tags;
      expect(problems(raw)).toEqual([expected]);
    });
  });

  describe("control, separator and bidi characters", () => {
    it.each([
      [
        "a C1 control in a label",
        (r: any) => (r.mailboxes[0].senders[0].label = "Anca\u0085"),
        'mailboxes[0].senders[0].label: "Anca\\u0085" contains U+0085 (a control character); remove it',
      ],
      [
        "a line separator in a folder",
        (r: any) => (r.mailboxes[0].processedFolder = "Pro\u2028cessed"),
        'mailboxes[0].processedFolder: "Pro\\u2028cessed" contains U+2028 (a line or paragraph separator); remove it',
      ],
      [
        "a paragraph separator in an account name",
        (r: any) => (r.mailboxes[0].accountName = "docs\u2029"),
        'mailboxes[0].accountName: "docs\\u2029" contains U+2029 (a line or paragraph separator); remove it',
      ],
      [
        "a right-to-left override in a label",
        (r: any) => (r.mailboxes[0].senders[0].label = "Anca\u202egpj.exe"),
        'mailboxes[0].senders[0].label: "Anca\\u202egpj.exe" contains U+202E (a bidirectional formatting character, which shows text in another order than it is stored); remove it',
      ],
      [
        "an isolate in a tag",
        (r: any) => (r.mailboxes[0].senders[0].tags = ["bank\u2066"]),
        'mailboxes[0].senders[0].tags[0]: "bank\\u2066" contains U+2066 (a bidirectional formatting character, which shows text in another order than it is stored); remove it',
      ],
      [
        "a right-to-left mark in the mailbox tag",
        (r: any) => (r.mailboxes[0].tag = "\u200fingest"),
        'mailboxes[0].tag: "\\u200fingest" contains U+200F (a bidirectional formatting character, which shows text in another order than it is stored); remove it',
      ],
      [
        "an Arabic letter mark in a folder",
        (r: any) => (r.mailboxes[0].processedFolder = "Done\u061c"),
        'mailboxes[0].processedFolder: "Done\\u061c" contains U+061C (a bidirectional formatting character, which shows text in another order than it is stored); remove it',
      ],
      [
        "a left-to-right mark in an address",
        (r: any) => (r.mailboxes[0].senders[0].address = "a@example.net\u200e"),
        'mailboxes[0].senders[0].address: "a@example.net\\u200e" contains U+200E (a bidirectional formatting character, which shows text in another order than it is stored); remove it',
      ],
      [
        "an override in the paperless URL",
        (r: any) => (r.paperless.url = "http://paperless\u202d.example.org"),
        'paperless.url: "http://paperless\\u202d.example.org" contains U+202D (a bidirectional formatting character, which shows text in another order than it is stored); remove it',
      ],
      [
        "an override in a key",
        (r: any) => (r.mailboxes[0]["tag\u202e"] = "x"),
        "mailboxes[0].tag\\u202e: the key contains U+202E (a bidirectional formatting character, which shows text in another order than it is stored); remove it",
      ],
    ])("refuses %s, shown escaped", (_, mutate, expected) => {
      const raw = base();
      mutate(raw);
      const found = problems(raw);
      expect(found).toContain(expected);
      expect(found.join("\n")).not.toMatch(/[\u0080-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
    });
  });

  describe("credentials in paperless.url", () => {
    it.each([
      ["https://admin:hunter2@paperless.example.org/", "https://***@paperless.example.org/"],
      ["https://hunter2@paperless.example.org", "https://***@paperless.example.org"],
      ["http://admin:hun@ter2@paperless.example.org:8000/api", "http://***@paperless.example.org:8000/api"],
    ])("refuses %s and never shows the password", (url, masked) => {
      const raw = base();
      raw.paperless.url = url;
      expect(problems(raw)).toEqual([
        `paperless.url: ${JSON.stringify(masked)} holds a user name or password (masked here): give paperless's API ` +
          "token with `pulumi config set --secret paperlessToken <token>` (or PAPERLESS_API_TOKEN) and remove it from the URL",
      ]);
    });

    it("masks them in every other message about the URL too", () => {
      const raw = base();
      raw.paperless.url = "https://admin:hunter2@paperless example";
      const found = problems(raw).join("\n");
      expect(found).toContain('paperless.url: "https://***@paperless example" is not an http(s) URL');
      expect(found).not.toContain("hunter2");
    });
  });
});

describe("stack file: size, provider secrets, TLS", () => {
  const dir = mkdtempSync(join(tmpdir(), "stack-"));
  const prodWith = (extra: Record<string, unknown>) => {
    const prod = parse(readFileSync(PROD_STACK_FILE, "utf8"));
    Object.assign(prod.config, extra);
    const path = join(dir, `Pulumi.${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(path, JSON.stringify(prod));
    return path;
  };
  const failure = (path: string): ConfigError => {
    try {
      readStackFile(path);
    } catch (e) {
      if (isConfigError(e)) return e;
      throw e;
    }
    throw new Error("expected a ConfigError");
  };

  it.each([
    ["/dev/zero", "/dev/zero"],
    ["a file one byte over 4 MiB", "big"],
  ])("reads at most 4 MiB of %s and says so", (_, which) => {
    let path = which;
    if (which === "big") {
      path = join(dir, "Pulumi.big.yaml");
      writeFileSync(path, `config: {}\n${"#".repeat(4 * 1024 * 1024 - 10)}\n`);
    }
    expect(failure(path).problems).toEqual(["is larger than 4194304 bytes (4 MiB), the most a stack file may be; is it the stack file?"]);
  });

  it("refuses a clear vault:token and an inline kubeconfig in clear, and accepts them encrypted or as a path", () => {
    const kubeconfig = "apiVersion: v1\nkind: Config\nclusters: []\nusers:\n- name: a\n  user: {token: sekrit}\n";
    const err = failure(prodWith({ "vault:token": "hvs.sekrit", "kubernetes:kubeconfig": kubeconfig }));
    expect(err.problems).toEqual([
      "vault:token: is stored in clear; run `pulumi config set --secret vault:token <token>` (or export VAULT_TOKEN) instead",
      "kubernetes:kubeconfig: is stored in clear; it holds the kubeconfig's text (its credentials): run " +
        "`pulumi config set --secret kubernetes:kubeconfig < <file>`, or give the file's path instead",
    ]);
    expect(err.message).not.toContain("sekrit");
    expect(
      readStackFile(prodWith({ "vault:token": { secure: "v1:abc" }, "kubernetes:kubeconfig": { secure: "v1:def" } })).config.mailboxes,
    ).toHaveLength(1);
    expect(readStackFile(prodWith({ "kubernetes:kubeconfig": "~/.kube/prod.yaml" })).config.mailboxes).toHaveLength(1);
  });

  it("warns that vault:skipTlsVerify turns the certificate check off", () => {
    const warning =
      "vault:skipTlsVerify turns off the check of Vault's TLS certificate: the Vault token goes to whoever answers at " +
      "vault:address; give Vault's CA with vault:caCertFile (or VAULT_CACERT) instead";
    expect(readStackFile(prodWith({ "vault:skipTlsVerify": true })).warnings).toEqual([warning]);
    expect(readStackFile(prodWith({ "vault:skipTlsVerify": false })).warnings).toEqual([]);
    expect(fromRuntime({ "vault:skipTlsVerify": "true" }, () => false).warnings).toEqual([warning]);
    expect(fromRuntime({}, () => false, { VAULT_SKIP_VERIFY: "1" }).warnings).toEqual([
      warning.replace("vault:skipTlsVerify", "VAULT_SKIP_VERIFY"),
    ]);
    expect(fromRuntime({ "vault:skipTlsVerify": "false" }, () => false, { VAULT_SKIP_VERIFY: "1" }).warnings).toEqual([]);
  });

  it("refuses a vault:* key the Vault provider does not take, or a value of the wrong type, naming the key and the fix", () => {
    const err = failure(prodWith({ "vault:adress": "https://vault", "vault:maxRetries": "many", "vault:skipChildToken": "maybe" }));
    expect(err.problems).toEqual([
      "vault:adress: not a key of the Vault provider, which would ignore it; did you mean vault:address?",
      'vault:maxRetries: "many" is not a whole number of 0 or more',
      'vault:skipChildToken: "maybe" is not true or false',
    ]);
    expect(fromRuntime({ "vault:authLogin": '"s3cret-login"', "vault:zzzzzzzz": "1" }, () => false).problems).toEqual([
      "vault:authLogin: must be a map of the provider's settings (see @pulumi/vault's ProviderArgs), not a string",
      expect.stringMatching(
        /^vault:zzzzzzzz: not a key of the Vault provider, which would ignore it; its keys: vault:addAddressToEnv, vault:address, .*vault:headers$/,
      ),
    ]);
    const valid = {
      "vault:address": "https://vault",
      "vault:maxRetries": "5",
      "vault:skipChildToken": "true",
      "vault:skipGetVaultVersion": "0",
      "vault:authLogin": JSON.stringify({ path: "auth/approle/login", parameters: { role_id: "r" } }),
      "vault:headers": JSON.stringify([{ name: "X-Env", value: "prod" }]),
    };
    expect(fromRuntime(valid, () => false).problems).toEqual([]);
    expect(readStackFile(prodWith({ "vault:maxRetries": 5, "vault:skipChildToken": true })).config.mailboxes).toHaveLength(1);
  });

  it("knows every key @pulumi/vault's provider takes, and no other", () => {
    const declaration = readFileSync(require.resolve("@pulumi/vault/provider.d.ts"), "utf8");
    const args = declaration.slice(declaration.indexOf("export interface ProviderArgs {"));
    const keys = [...args.slice(0, args.indexOf("\n}")).matchAll(/^ {4}(\w+)\?:/gm)].map((m) => m[1]);
    expect(keys.length).toBeGreaterThan(20);
    expect([...VAULT_PROVIDER_KEYS].sort()).toEqual(keys.sort());
  });

  it("in the program, a secret key not set with --secret is refused, whatever its value", () => {
    const all = {
      "paperless-mail-ingest:paperlessToken": "sekrit",
      "paperless-mail-ingest:mailboxPasswords": JSON.stringify({ "docs@viktorbarzin.me": "sekrit" }),
      "vault:token": "hvs.sekrit",
      "kubernetes:kubeconfig": "apiVersion: v1\nclusters: []\n",
    };
    expect(fromRuntime(all, () => false).problems).toEqual([
      "paperlessToken: is stored in clear; set it with `pulumi config set --secret` (or the environment) instead",
      "mailboxPasswords: is stored in clear; set it with `pulumi config set --secret` (or the environment) instead",
      "vault:token: is stored in clear; run `pulumi config set --secret vault:token <token>` (or export VAULT_TOKEN) instead",
      "kubernetes:kubeconfig: is stored in clear; it holds the kubeconfig's text (its credentials): run " +
        "`pulumi config set --secret kubernetes:kubeconfig < <file>`, or give the file's path instead",
    ]);
    expect(fromRuntime(all, () => true).problems).toEqual([]);
    expect(fromRuntime({ "kubernetes:kubeconfig": "/etc/kube/prod.yaml" }, () => false).problems).toEqual([]);
  });
});
