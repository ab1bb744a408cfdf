// The whole program (index.ts) under Pulumi mocks with the production stack config: the
// resource tree, its names, and that everything hangs off the one sender list.
import * as pulumi from "@pulumi/pulumi";
import { readFileSync } from "fs";
import { parse } from "yaml";
import { configError } from "../../stack/config";
import { readProgramConfig } from "../../stack/programConfig";
import { runProgram, valueOf } from "../support/programUnderMocks";
import { PROD_STACK_FILE } from "../support/prodConfig";

const prodStackConfig = (): Record<string, unknown> => ({
  ...(parse(readFileSync(PROD_STACK_FILE, "utf8")).config as Record<string, unknown>),
  "paperless-mail-ingest:paperlessToken": "test-token",
});

describe("index.ts under mocks, production stack", () => {
  let run: Awaited<ReturnType<typeof runProgram>>;
  beforeAll(async () => {
    run = await runProgram(prodStackConfig(), { secretKeys: ["paperless-mail-ingest:paperlessToken"] });
  });

  it("builds one PaperlessMailIngest per mailbox, with every part as its child", () => {
    const top = [...run.resources.values()].filter((n) => n.type === "paperless-mail-ingest:index:PaperlessMailIngest");
    expect(top.map((n) => n.name)).toEqual(["docs-at-viktorbarzin.me"]);
    const children = [...run.resources.values()].filter(
      (n) => n.parent === "paperless-mail-ingest:index:PaperlessMailIngest::docs-at-viktorbarzin.me",
    );
    expect(children.map((n) => n.type).sort()).toEqual([
      "paperless-mail-ingest:mailserver:MailAlias",
      "paperless-mail-ingest:mailserver:MailboxAccount",
      "paperless-mail-ingest:mailserver:SieveFilter",
      "paperless-mail-ingest:paperless:PaperlessMailbox",
      "paperless-mail-ingest:vault:MailboxSecret",
    ]);
    expect(children.every((n) => n.name === "docs-at-viktorbarzin.me")).toBe(true);
  });

  it("the mailserver side waits for the Vault secret and its write check", () => {
    const secret = "paperless-mail-ingest:vault:MailboxSecret::docs-at-viktorbarzin.me";
    expect(run.resources.get("paperless-mail-ingest:mailserver:MailAlias::docs-at-viktorbarzin.me")?.dependsOn).toEqual([secret]);
  });

  it("the sieve (its ConfigMap waits for it) comes after the mailbox's paperless rules: it keeps a sender's mail only once their rule exists", () => {
    expect(run.resources.get("paperless-mail-ingest:mailserver:SieveFilter::docs-at-viktorbarzin.me")?.dependsOn).toEqual([
      "paperless-mail-ingest:vault:MailboxSecret::docs-at-viktorbarzin.me",
      "paperless-mail-ingest:paperless:PaperlessMailbox::docs-at-viktorbarzin.me",
    ]);
  });

  it("at the stack root: the cluster's provider, one PaperlessMailIngest per mailbox, then what they share", () => {
    const roots = [...run.resources.values()].filter((n) => !n.parent);
    expect(roots.map((n) => `${n.type}::${n.name}`)).toEqual([
      "pulumi:providers:kubernetes::mailserver-cluster",
      "pulumi:providers:vault::vault",
      "pulumi:providers:command::command",
      "paperless-mail-ingest:index:PaperlessMailIngest::docs-at-viktorbarzin.me",
      "paperless-mail-ingest:mailserver:SieveRollout::mailserver",
      "paperless-mail-ingest:paperless:MailFetchTrigger::paperless-fetch",
      "pulumi-nodejs:dynamic/kubernetes:KubernetesRights::kubernetes-rights",
    ]);
  });

  it("every Vault, Kubernetes and command resource is given the program's one provider of its package", () => {
    const providersOf = (pkg: string) =>
      [...run.resources.values()].filter((n) => n.type.startsWith(`${pkg}:`)).map((n) => `${n.type}: ${n.provider}`);
    expect(providersOf("vault")).toEqual(["vault:generic/secret:Secret: pulumi:providers:vault::vault"]);
    expect(providersOf("kubernetes")).toEqual(["kubernetes:core/v1:ConfigMap: pulumi:providers:kubernetes::mailserver-cluster"]);
    expect(providersOf("command")).toEqual([
      "command:local:Command: pulumi:providers:command::command",
      "command:local:Command: pulumi:providers:command::command",
    ]);
  });

  it("the Kubernetes rights check depends on everything else, so a destroy runs it before it deletes anything", () => {
    const roots = [...run.resources.values()].filter((n) => !n.parent).map((n) => `${n.type}::${n.name}`);
    const rights = "pulumi-nodejs:dynamic/kubernetes:KubernetesRights::kubernetes-rights";
    expect(run.resources.get(rights)?.dependsOn).toEqual(roots.filter((r) => r !== rights && !r.startsWith("pulumi:providers:")));
    expect(run.resources.get(rights)?.inputs?.rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          namespace: "mailserver",
          resource: "configmaps",
          uses: expect.objectContaining({ destroy: ["list", "watch"] }),
        }),
      ]),
    );
  });

  it("exports the sender -> owner table, rule ids, sieve hash and Vault path per mailbox", async () => {
    const docs = run.exports.mailboxes["docs@viktorbarzin.me"];
    expect(docs.senders).toEqual({
      "me@viktorbarzin.me": "root",
      "vbarzin@gmail.com": "root",
      "viktorbarzin@meta.com": "root",
      "ancaelena98@gmail.com": "anca",
      "emil.barzin@gmail.com": "emo",
    });
    expect(docs.sieveSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(docs.vaultPath).toBe("secret/paperless-mail-ingest/docs@viktorbarzin.me");
    expect(Object.keys(await valueOf(docs.ruleIds)).sort()).toEqual([
      "ancaelena98@gmail.com",
      "emil.barzin@gmail.com",
      "me@viktorbarzin.me",
      "vbarzin@gmail.com",
      "viktorbarzin@meta.com",
    ]);
  });
});

/** The config as the engine hands it to the program: JSON text, and which keys were set with `--secret`. */
const SECRET = ["paperless-mail-ingest:paperlessToken", "paperless-mail-ingest:mailboxPasswords"];
function setStackConfig(config: Record<string, unknown>, secretKeys: readonly string[] = SECRET): void {
  pulumi.runtime.setAllConfig(
    Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])),
    [...secretKeys],
  );
}

describe("a bad stack is refused before anything is created", () => {
  it("readProgramConfig (the first thing index.ts does) lists every problem at once", () => {
    const config = prodStackConfig();
    delete config["paperless-mail-ingest:paperlessToken"];
    const mailboxes = JSON.parse(JSON.stringify(config["paperless-mail-ingest:mailboxes"]));
    mailboxes[0].senders[3].address = "ancaelena98-at-gmail.com";
    config["paperless-mail-ingest:mailboxes"] = mailboxes;
    config["paperless-mail-ingest:sendrs"] = [];
    config["paperless-mail-ingest:mailboxPasswords"] = { "receipts@viktorbarzin.me": "x" };
    setStackConfig(config);
    const saved = process.env["PAPERLESS_API_TOKEN"];
    delete process.env["PAPERLESS_API_TOKEN"];
    try {
      expect(() => readProgramConfig()).toThrow(
        configError(
          [
            "paperless-mail-ingest:sendrs: unknown config key (known: mailboxes, mailserver, paperless, vault, doctor, canary, paperlessToken, mailboxPasswords)",
            'mailboxes[0].senders[3].address: "ancaelena98-at-gmail.com" is not an email address',
            "paperlessToken: not set; run `pulumi config set --secret paperlessToken <token>` or export PAPERLESS_API_TOKEN",
          ],
          "stack prod (Pulumi.prod.yaml)",
        ).message,
      );
    } finally {
      if (saved !== undefined) process.env["PAPERLESS_API_TOKEN"] = saved;
    }
  });

  it("names a password set for a mailbox the stack does not have", () => {
    setStackConfig({ ...prodStackConfig(), "paperless-mail-ingest:mailboxPasswords": { "receipts@viktorbarzin.me": "x" } });
    expect(() => readProgramConfig()).toThrow("mailboxPasswords.receipts@viktorbarzin.me: is not an ingest mailbox of this stack");
  });

  it.each([
    ["a bare password (no --path)", "hunter2-secret-pw", "mailboxPasswords: must be a map of mailbox address -> password"],
    [
      "a password that is not a string",
      JSON.stringify({ "docs@viktorbarzin.me": 12345678 }),
      "mailboxPasswords.docs@viktorbarzin.me: must be a non-empty string",
    ],
  ])("a mistyped mailboxPasswords (%s) is named without showing the password", (_, text, expected) => {
    setStackConfig({ ...prodStackConfig(), "paperless-mail-ingest:mailboxPasswords": text });
    let message = "";
    try {
      readProgramConfig();
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain(expected);
    expect(message).toContain("pulumi config set --secret --path 'mailboxPasswords[\"<mailbox>\"]' <password>");
    expect(message).not.toMatch(/hunter2|12345678/);
  });

  it("refuses a secret set without --secret, naming the key and the command, never its value", () => {
    setStackConfig(
      {
        ...prodStackConfig(),
        "paperless-mail-ingest:mailboxPasswords": { "docs@viktorbarzin.me": "hunter2-pw" },
        "vault:token": "hvs.hunter3",
        "kubernetes:kubeconfig": "apiVersion: v1\nclusters: []\nusers: [{name: a, user: {token: hunter4}}]\n",
      },
      [],
    );
    let message = "";
    try {
      readProgramConfig();
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toBe(
      configError(
        [
          "paperlessToken: is stored in clear; set it with `pulumi config set --secret` (or the environment) instead",
          "mailboxPasswords: is stored in clear; set it with `pulumi config set --secret` (or the environment) instead",
          "vault:token: is stored in clear; run `pulumi config set --secret vault:token <token>` (or export VAULT_TOKEN) instead",
          "kubernetes:kubeconfig: is stored in clear; it holds the kubeconfig's text (its credentials): run " +
            "`pulumi config set --secret kubernetes:kubeconfig < <file>`, or give the file's path instead",
        ],
        "stack prod (Pulumi.prod.yaml)",
      ).message,
    );
    expect(message).not.toMatch(/hunter/);
  });

  it("says at every run that vault:skipTlsVerify turns the TLS check off (a warning: the provider supports it)", () => {
    const warn = jest.spyOn(pulumi.log, "warn").mockImplementation(async () => undefined);
    try {
      setStackConfig({ ...prodStackConfig(), "vault:skipTlsVerify": "true" });
      readProgramConfig();
      expect(warn.mock.calls.map(([text]) => text)).toEqual([
        "vault:skipTlsVerify turns off the check of Vault's TLS certificate: the Vault token goes to whoever answers at " +
          "vault:address; give Vault's CA with vault:caCertFile (or VAULT_CACERT) instead",
      ]);
    } finally {
      warn.mockRestore();
    }
  });
});
