// The mailserver-side resource graph of index.ts for the production stack, under Pulumi mocks:
// what is created with which inputs, what waits for what (so destroy runs in the order the
// README states), and that the one cluster setting reaches everything that talks to the
// cluster. What these resources do on real servers is proven by tests/program (the real CLI).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { renderSieve } from "../../core/sieve";
import { INLINE_KUBECONFIG_VAR } from "../../core/kubectlCommands";
import { keyOf, runProgram, type RecordedResource } from "../support/programUnderMocks";
import { PROD_STACK_FILE, prodConfig } from "../support/prodConfig";

const LINES = "pulumi-nodejs:dynamic/kubernetes:ConfigMapLines";
const MOUNTS = "pulumi-nodejs:dynamic/kubernetes:DeploymentMountsPatch";
const COMMAND = "command:local:Command";
const DOCS = "docs-at-viktorbarzin.me";

const config = prodConfig();
/** A Command's create or delete script ("" when it has none). */
const commandText = (c: RecordedResource, step: "create" | "delete"): string => (c.inputs![step] as string | undefined) ?? "";
const mailbox = config.mailboxes[0]!;

type Config = Record<string, unknown>;
const prodStack = (extra: Config = {}): Config => ({
  ...(parse(readFileSync(PROD_STACK_FILE, "utf8")).config as Config),
  "paperless-mail-ingest:paperlessToken": "test-token",
  ...extra,
});

async function up(extra: Config = {}, state = new Map<string, string>()) {
  // Set as `pulumi config set --secret` sets them: the program refuses them in clear.
  const secretKeys = ["paperless-mail-ingest:paperlessToken", "paperless-mail-ingest:mailboxPasswords", "kubernetes:kubeconfig"];
  const run = await runProgram(prodStack(extra), { secretKeys, state });
  const all = [...run.resources.values()];
  const find = (type: string, name: string): RecordedResource => {
    const r = run.resources.get(`${type}::${name}`);
    if (!r)
      throw new Error(
        `no ${type}::${name}; have ${all
          .filter((x) => x.type === type)
          .map((x) => x.name)
          .join(", ")}`,
      );
    return r;
  };
  return { ...run, all, find };
}

function doveadmVerifies(line: string, password: string): boolean {
  const hash = line.slice(line.indexOf("|") + 1);
  return spawnSync("doveadm", ["pw", "-t", hash, "-p", password]).status === 0;
}

describe("mailserver side of the production stack (mocks)", () => {
  let run: Awaited<ReturnType<typeof up>>;
  const state = new Map<string, string>();
  beforeAll(async () => {
    run = await up({}, state);
  });

  const password = () => JSON.parse(run.find("vault:generic/secret:Secret", DOCS).inputs!.dataJson as string).password as string;
  const accountLine = () => (run.find(LINES, `${DOCS}-account-line`).inputs!.lines as string[])[0]!;

  it("stores a generated password in Vault KV v2 at <pathPrefix>/<address> of the mount, as a secret", () => {
    const kv = run.find("vault:generic/secret:Secret", DOCS);
    expect(kv.inputs).toMatchObject({ path: "secret/paperless-mail-ingest/docs@viktorbarzin.me", deleteAllVersions: true });
    expect(kv.secretInputs).toEqual(["dataJson"]);
    expect(JSON.parse(kv.inputs!.dataJson as string)).toEqual({ username: "docs@viktorbarzin.me", password: password() });
    expect(password()).toMatch(/^[A-Za-z0-9]{32}$/);
  });

  it("puts an account line that doveadm verifies into postfix-accounts.cf of mailserver.config, as a secret", () => {
    const lines = run.find(LINES, `${DOCS}-account-line`);
    expect(lines.secretInputs).toContain("lines");
    expect(lines.inputs).toMatchObject({
      namespace: "mailserver",
      name: "mailserver.config",
      key: "postfix-accounts.cf",
      owner: "docs@viktorbarzin.me",
      format: "accounts",
      keys: ["docs@viktorbarzin.me"],
    });
    expect(accountLine()).toMatch(/^docs@viktorbarzin\.me\|\{SHA512-CRYPT\}\$6\$[./0-9A-Za-z]{16}\$/);
    expect(doveadmVerifies(accountLine(), password())).toBe(true);
  });

  it("gives the same line for the same state, and a new line with the kept salt for a password the user sets", async () => {
    const again = await up({}, state);
    expect((again.find(LINES, `${DOCS}-account-line`).inputs!.lines as string[])[0]).toBe(accountLine());
    const set = await up({ "paperless-mail-ingest:mailboxPasswords": { "docs@viktorbarzin.me": "user-chosen-password" } }, state);
    const line = (set.find(LINES, `${DOCS}-account-line`).inputs!.lines as string[])[0]!;
    expect(line).not.toBe(accountLine());
    expect(line.split("$")[2]).toBe(accountLine().split("$")[2]);
    expect(doveadmVerifies(line, "user-chosen-password")).toBe(true);
  });

  it("puts the self-alias into postfix-virtual.cf", () => {
    expect(run.find(LINES, `${DOCS}-alias-line`).inputs).toMatchObject({
      namespace: "mailserver",
      name: "mailserver.config",
      key: "postfix-virtual.cf",
      format: "virtual",
      owner: "docs@viktorbarzin.me",
      lines: ["docs@viktorbarzin.me docs@viktorbarzin.me"],
    });
  });

  it("creates the sieve ConfigMap with the Reloader match annotation under an @-free key, through the program's provider", () => {
    const cm = run.find("kubernetes:core/v1:ConfigMap", DOCS);
    expect(cm.inputs!.metadata).toMatchObject({
      name: "mailserver-sieve-docs-at-viktorbarzin.me",
      namespace: "mailserver",
      // patchForce: a hand edit is drift that up overwrites (tests/stack scenario 6), not a co-owner.
      annotations: { "reloader.stakater.com/match": "true", "pulumi.com/patchForce": "true" },
    });
    expect(cm.inputs!.data).toEqual({ "docs-at-viktorbarzin.me.dovecot.sieve": renderSieve(mailbox) });
  });

  it("has one Kubernetes provider, with ConfigMap data updated in place (so Reloader sees a changed sieve)", () => {
    const providers = run.all.filter((r) => r.type === "pulumi:providers:kubernetes");
    expect(providers.map((p) => p.name)).toEqual(["mailserver-cluster"]);
    expect(providers[0]!.inputs).toMatchObject({ enableConfigMapMutable: "true" });
  });

  it("applies only the volumes, the read-only subPath mounts and the search annotation to the Deployment, as one field manager", () => {
    const { __provider: _, ...inputs } = run.find(MOUNTS, "mailserver").inputs!;
    expect(inputs).toEqual({
      namespace: "mailserver",
      deployment: "mailserver",
      container: "docker-mailserver",
      fieldManager: "paperless-mail-ingest",
      annotations: { "reloader.stakater.com/search": "true" },
      mounts: [
        {
          volumeName: "sieve-docs-at-viktorbarzin-me",
          configMapName: "mailserver-sieve-docs-at-viktorbarzin.me",
          mountPath: "/tmp/docker-mailserver/docs@viktorbarzin.me.dovecot.sieve",
          subPath: "docs-at-viktorbarzin.me.dovecot.sieve",
        },
      ],
      cluster: { kubeconfigPath: "", kubeconfigText: "", context: "" },
    });
  });

  it("orders destroy as the README says: patch, then the sieve removal, then the ConfigMap", () => {
    const cm = keyOf({ type: "kubernetes:core/v1:ConfigMap", name: DOCS });
    const uninstall = keyOf({ type: COMMAND, name: `${DOCS}-uninstall` });
    // A resource is deleted before what it depends on.
    expect(run.find(MOUNTS, "mailserver").dependsOn).toEqual(expect.arrayContaining([uninstall, cm]));
    expect(run.find(COMMAND, `${DOCS}-uninstall`).dependsOn).toEqual([cm]);
  });

  it("removes at destroy only the installed sieve of docs@ and Reloader's variable for its ConfigMap, and deletes no mail", () => {
    const deletes = run.all.filter((r) => r.type === COMMAND && r.inputs?.delete);
    expect(deletes.map((c) => c.name)).toEqual([`${DOCS}-uninstall`]);
    const text = deletes[0]!.inputs!.delete as string;
    expect(text).toContain("exec deploy/'mailserver' -c 'docker-mailserver' -- 'sh' '-c'");
    expect(text).toContain("/var/mail/viktorbarzin.me/docs/home/.dovecot.sieve");
    expect(text).toContain("/var/mail/viktorbarzin.me/docs/home/.dovecot.svbin");
    expect(text).toContain("STAKATER_MAILSERVER_SIEVE_DOCS_AT_VIKTORBARZIN_ME_CONFIGMAP");
    for (const c of run.all.filter((r) => r.type === COMMAND)) {
      expect(`${commandText(c, "create")}\n${commandText(c, "delete")}`).not.toMatch(
        /rm -r|rm -fr|rm -rf|expunge|mailbox delete|\/cur|\/new/,
      );
    }
  });

  it("waits, after the patch and the account line, until the mail server runs this sieve, and creates the Processed folder", () => {
    const ready = run.find(COMMAND, `${DOCS}-ready`);
    expect(ready.dependsOn).toEqual(
      expect.arrayContaining([keyOf({ type: MOUNTS, name: "mailserver" }), keyOf({ type: LINES, name: `${DOCS}-account-line` })]),
    );
    expect(ready.inputs!.delete).toBeUndefined();
    expect(ready.inputs!.create).toContain(run.exports.mailboxes["docs@viktorbarzin.me"].sieveSha256);
    expect(ready.inputs!.create).toContain("mailbox create -u '\\''docs@viktorbarzin.me'\\'' '\\''Processed'\\''");
  });

  it("triggers no fetch in production (fetchAfterChange: false)", () => {
    expect(run.all.filter((r) => r.name === "paperless-fetch" && r.type !== "paperless-mail-ingest:paperless:MailFetchTrigger")).toEqual(
      [],
    );
  });
});

describe("the cluster, given once (kubernetes:kubeconfig / kubernetes:context)", () => {
  it("a kubeconfig path and context reach the provider, the ConfigMap editor, the preflight and every kubectl command", async () => {
    const run = await up({ "kubernetes:kubeconfig": "/etc/kube/prod.yaml", "kubernetes:context": "prod" });
    expect(run.find("pulumi:providers:kubernetes", "mailserver-cluster").inputs).toMatchObject({
      kubeconfig: "/etc/kube/prod.yaml",
      context: "prod",
    });
    const cluster = { kubeconfigPath: "/etc/kube/prod.yaml", kubeconfigText: "", context: "prod" };
    expect(run.find(LINES, `${DOCS}-account-line`).inputs).toMatchObject({ cluster });
    expect(run.find(LINES, `${DOCS}-alias-line`).inputs).toMatchObject({ cluster });
    expect(run.find(MOUNTS, "mailserver").inputs).toMatchObject({ cluster });
    for (const name of [`${DOCS}-uninstall`, `${DOCS}-ready`]) {
      const c = run.find(COMMAND, name);
      expect(c.inputs!.environment).toEqual({ KUBECONFIG: "/etc/kube/prod.yaml" });
      expect(`${commandText(c, "create")}${commandText(c, "delete")}`).toContain("kubectl --context 'prod' -n ");
    }
  });

  it("an inline kubeconfig travels as a secret variable, never in a command line", async () => {
    const text = "apiVersion: v1\nkind: Config\nclusters: []\n";
    const run = await up({ "kubernetes:kubeconfig": text });
    const c = run.find(COMMAND, `${DOCS}-ready`);
    expect(c.secretInputs).toContain("environment");
    expect(c.inputs!.environment).toEqual({ [INLINE_KUBECONFIG_VAR]: text });
    expect(c.inputs!.create).not.toContain("clusters");
    expect(run.find("pulumi:providers:kubernetes", "mailserver-cluster").secretInputs).toContain("kubeconfig");
    expect(run.find(LINES, `${DOCS}-account-line`).secretInputs).toContain("cluster");
    expect(run.find(MOUNTS, "mailserver").secretInputs).toContain("cluster");
  });

  it("absent, leaves kubectl and the provider on the default kubeconfig and its current context", async () => {
    const run = await up();
    expect(run.find(LINES, `${DOCS}-account-line`).inputs).toMatchObject({
      cluster: { kubeconfigPath: "", kubeconfigText: "", context: "" },
    });
    expect(run.find(COMMAND, `${DOCS}-ready`).inputs!.environment).toEqual({});
    expect(run.find("pulumi:providers:kubernetes", "mailserver-cluster").inputs).not.toHaveProperty("kubeconfig");
  });
});

describe("mail fetch trigger (fetchAfterChange: true)", () => {
  const FETCH = "pulumi-nodejs:dynamic/paperless:PaperlessMailFetch";

  it("asks paperless's API to fetch every mail account of the stack, after every mailbox's rules and readiness, re-run only by the rules' fingerprint", async () => {
    const run = await up({ "paperless-mail-ingest:paperless": { ...config.paperless, fetchAfterChange: true } });
    const fetch = run.find(FETCH, "paperless-fetch");
    expect(fetch.inputs).toEqual({
      url: config.paperless.url,
      accounts: [mailbox.accountName],
      rulesFingerprint: expect.stringMatching(/^[0-9a-f]{64}$/),
      __provider: expect.any(String),
    });
    expect(fetch.dependsOn).toEqual(
      expect.arrayContaining([
        keyOf({ type: "paperless-mail-ingest:paperless:PaperlessMailbox", name: DOCS }),
        keyOf({ type: COMMAND, name: `${DOCS}-ready` }),
      ]),
    );
    // Nothing of it runs kubectl: no command of the program reaches into paperless's namespace.
    expect(
      run.all
        .filter((r) => r.type === COMMAND)
        .map((r) => `${commandText(r, "create")}${commandText(r, "delete")}`)
        .join("\n"),
    ).not.toMatch(/paperless-ngx|mail_fetcher/);
  });

  it("the fingerprint moves with a rule's declared state, and only then", async () => {
    const fingerprint = async (extra: Config) =>
      (await up({ "paperless-mail-ingest:paperless": { ...config.paperless, fetchAfterChange: true }, ...extra })).find(
        FETCH,
        "paperless-fetch",
      ).inputs!.rulesFingerprint;
    const prod = prodStack()["paperless-mail-ingest:mailboxes"] as { senders: { user: string }[] }[];
    const moved = structuredClone(prod);
    moved[0]!.senders[0]!.user = "emo";
    expect(await fingerprint({})).toBe(await fingerprint({}));
    expect(await fingerprint({ "paperless-mail-ingest:mailboxes": moved })).not.toBe(await fingerprint({}));
  });
});
