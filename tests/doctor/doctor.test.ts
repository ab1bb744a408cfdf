// `npm run doctor` against the stack the real Pulumi CLI deployed (index.ts) on the test cluster
// (kube-apiserver, Reloader, docker-mailserver pods), Vault and paperless-ngx 3.0.5. After the
// deploy every check passes; then one link at a time is broken the way it breaks in the field, the
// matching check must fail (or warn) with its hint while every other check still passes, and after
// the repair every check passes again. One cluster and one paperless for the whole suite.
import { vaultPolicy } from "../../core/vaultPolicy";
import { startCluster, type Cluster } from "../support/cluster/cluster";
import { ImapClient, imapQuote } from "../support/mailserver/imap";
import { MAILSERVER } from "../support/cluster/productionObjects";
import { startPaperless, type PaperlessServer } from "../support/paperless/server";
import { programStack, type ProgramStack } from "../support/programStack";
import { eventually, key, kubectl, kubectlJson, type MailboxEntry, prodStack, type StackConfig } from "../stack/scenarios";
import { type DoctorRun, expectedResults, problemText, results, runDoctor } from "./doctorRun";

jest.setTimeout(900_000);

const DOCS = "docs@viktorbarzin.me";
const SIEVE_CM = "mailserver-sieve-docs-at-viktorbarzin.me";
const SIEVE_KEY = "docs-at-viktorbarzin.me.dovecot.sieve";

let cluster: Cluster;
let paperless: PaperlessServer;
let stack: ProgramStack;
let vaultToken: string;
const prod = prodStack();
const mailboxes = structuredClone(prod[key("mailboxes")]) as MailboxEntry[];
/** Every healthy run's time and requests, for the report at the end. */
const healthy: DoctorRun[] = [];

function config(extra: StackConfig = {}): StackConfig {
  const imap = cluster.service(MAILSERVER.namespace, MAILSERVER.service, 143);
  return {
    ...prod,
    [key("mailboxes")]: mailboxes,
    [key("mailserver")]: { ...(prod[key("mailserver")] as object), imapHost: imap.host, imapPort: imap.port, imapSecurity: "none" },
    [key("paperless")]: { ...(prod[key("paperless")] as object), url: paperless.url },
    "kubernetes:kubeconfig": cluster.kubeconfig,
    "kubernetes:context": cluster.context,
    "vault:address": cluster.vault.addr,
    ...extra,
  };
}

const k = (...args: string[]) => kubectl(cluster.kubectl, cluster.kubeconfig, ...args);

async function up(...args: string[]): Promise<void> {
  const op = await stack.up(...args);
  if (!op.ok) throw new Error(`pulumi up failed:\n${op.stdout.slice(-6000)}\n${op.stderr.slice(-3000)}`);
}

async function doctor(...args: string[]): Promise<DoctorRun> {
  const run = await runDoctor(stack, ["--json", ...args]);
  if (!run.report) throw new Error(`the doctor printed no report (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  return run;
}

/** Every check passes (exit 0). */
async function expectHealthy(): Promise<DoctorRun> {
  const run = await doctor();
  expect(results(run.report!)).toEqual(expectedResults(run.report!, {}));
  expect(run.code).toBe(0);
  healthy.push(run);
  return run;
}

/** Exactly the named checks fail or warn, each with its README anchor; exit 1 when one fails. */
async function expectOnly(expected: Record<string, "warning" | "error">, ...args: string[]): Promise<DoctorRun> {
  const run = await doctor(...args);
  expect(results(run.report!)).toEqual(expectedResults(run.report!, expected));
  for (const id of Object.keys(expected)) expect(problemText(run.report!, id)).toContain(`README.md#doctor-${id.replace(/\./g, "-")}`);
  expect(run.code).toBe(Object.values(expected).includes("error") ? 1 : 0);
  return run;
}

async function sieveScript(): Promise<string> {
  return (await kubectlJson(cluster.kubectl, cluster.kubeconfig, "-n", MAILSERVER.namespace, "get", "configmap", SIEVE_CM)).data[SIEVE_KEY];
}

/**
 * Until the mailserver serves what its ConfigMaps hold: one pod of a finished rollout whose
 * installed sieve and account/alias files are the ConfigMaps' (a change Reloader rolls for is
 * then in place). A repair's roll must be over before the healthy run.
 */
async function settled(): Promise<void> {
  await eventually("the mailserver to serve its ConfigMaps", async () => {
    const get = (...a: string[]) => kubectlJson(cluster.kubectl, cluster.kubeconfig, "-n", MAILSERVER.namespace, "get", ...a);
    await k("-n", MAILSERVER.namespace, "rollout", "status", `deploy/${MAILSERVER.deployment}`, "--timeout=300s");
    const [pods, sieve, shared] = await Promise.all([get("pods", "-l", "app=mailserver"), get("configmap", SIEVE_CM), get("configmap", MAILSERVER.configMap)]);
    if (pods.items.length !== 1) return undefined;
    const server = await cluster.mailserver();
    const cat = async (path: string) => (await server.exec(`cat ${path}`)).stdout;
    const same = await cat("/var/mail/viktorbarzin.me/docs/home/.dovecot.sieve") === sieve.data[SIEVE_KEY]
      && await cat("/tmp/docker-mailserver/postfix-accounts.cf") === shared.data["postfix-accounts.cf"]
      && await cat("/tmp/docker-mailserver/postfix-virtual.cf") === shared.data["postfix-virtual.cf"];
    return same ? true : undefined;
  }, 300_000);
}

async function vaultPassword(): Promise<string> {
  return (await cluster.vault.api("GET", `secret/data/paperless-mail-ingest/${DOCS}`)).json.data.data.password;
}

/** IMAP commands as docs@ (a mail client of the mailbox's owner), through the mailserver Service. */
async function asMailClient(...commands: string[]): Promise<void> {
  const imap = await ImapClient.open(cluster.service(MAILSERVER.namespace, MAILSERVER.service, 143).port);
  try {
    expect((await imap.login(DOCS, await vaultPassword())).status).toBe("OK");
    for (const c of commands) expect(`${c}: ${(await imap.command(c)).status}`).toBe(`${c}: OK`);
  } finally {
    await imap.close();
  }
}

beforeAll(async () => {
  const started = Date.now();
  [cluster, paperless] = await Promise.all([startCluster(), startPaperless("3.0.5", { users: ["root", "anca", "emo"] })]);
  await cluster.installProductionObjects();
  const policy = await cluster.vault.api("PUT", "sys/policies/acl/paperless-mail-ingest", { policy: vaultPolicy({ mount: "secret", pathPrefix: "paperless-mail-ingest" }) });
  expect(policy.status).toBe(204);
  vaultToken = (await cluster.vault.api("POST", "auth/token/create", { policies: ["paperless-mail-ingest"], ttl: "2h" })).json.auth.client_token;
  stack = await programStack(`e2e-doctor-${Math.random().toString(36).slice(2, 8)}`, { path: [cluster.binDir] });
  stack.setConfig(config());
  await stack.setSecret(key("paperlessToken"), paperless.token);
  await stack.setSecret("vault:token", vaultToken);
  await up();
  await settled();
  console.log(`doctor suite: servers up and stack deployed in ${Math.round((Date.now() - started) / 1000)} s`);
});

afterAll(async () => {
  if (healthy.length) {
    const s = healthy.map((r) => r.ms / 1000).sort((a, b) => a - b);
    console.log(`doctor suite: ${healthy.length} healthy runs at ${mailboxes[0]!.senders.length} senders: `
      + `${s[0]!.toFixed(1)}–${s[s.length - 1]!.toFixed(1)} s (median ${s[Math.floor(s.length / 2)]!.toFixed(1)} s); requests ${JSON.stringify(healthy[0]!.report!.requests)}`);
  }
  await stack?.dispose();
  await paperless?.stop();
  await cluster?.stop();
});

describe("npm run doctor against the deployed stack", () => {
  test("after the deploy every check passes, exit 0; the text report has the same checks", async () => {
    const run = await expectHealthy();
    const text = await runDoctor(stack, []);
    expect(text.code).toBe(0);
    for (const id of Object.keys(results(run.report!))) expect(text.stdout).toMatch(new RegExp(`✔ ${id.replace(/\./g, "\\.")}\\s`));
    expect(text.stdout).toContain("all checks passed");
  });

  test("--list-checks, --check <id> (with what it needs), exit 2 when the doctor cannot run", async () => {
    const list = await runDoctor(stack, ["--list-checks", "--json"]);
    expect(list.code).toBe(0);
    const ids = (JSON.parse(list.stdout) as { id: string }[]).map((c) => c.id);
    expect(ids).toEqual(expect.arrayContaining(["stack.deployed", "mailserver.sieve-installed", "mailserver.sieve-compiles", "mailserver.account-live"]));

    const one = await doctor("--check", "mailserver.sieve-compiles");
    expect(Object.keys(results(one.report!)).sort()).toEqual(["mailserver.deployment-ready", "mailserver.sieve-compiles"]);
    expect(one.code).toBe(0);

    const unknown = await runDoctor(stack, ["--check", "mailserver.nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("--check mailserver.nope: no such check");
    // A stack that does not exist: the doctor cannot run.
    const other = await runDoctor({ ...stack, name: "e2e-doctor-missing" }, []);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/stack e2e-doctor-missing: cannot read its/);
  });

  test("a sieve that does not compile is installed (a hand edit Reloader rolled out): sieve-compiles fails, naming the fail-open", async () => {
    const declared = await sieveScript();
    // A hand edit of the ConfigMap with a syntax error: Reloader rolls the mailserver, which installs it.
    const broken = declared.replace(/\bstop;/, "stop");
    expect(broken).not.toBe(declared);
    await k("-n", MAILSERVER.namespace, "patch", "configmap", SIEVE_CM, "--type", "merge", "-p", JSON.stringify({ data: { [SIEVE_KEY]: broken } }));
    await settled();
    const run = await expectOnly({ "mailserver.sieve-compiles": "error", "mailserver.sieve-installed": "error" });
    expect(problemText(run.report!, "mailserver.sieve-compiles")).toContain("fails open: every sender's mail is kept");
    expect(problemText(run.report!, "mailserver.sieve-installed")).toMatch(/edited outside Pulumi[\s\S]*pulumi up --refresh/);

    await up("--refresh");
    await settled();
    await expectHealthy();
  });

  test("the sieve ConfigMap changes while the pod does not roll (Reloader not watching): sieve-installed fails, saying Reloader did not roll", async () => {
    const declared = await sieveScript();
    // The Deployment's owner turns Reloader's search off (Reloader then ignores this workload), then the sieve changes.
    await k("-n", MAILSERVER.namespace, "annotate", "deploy", MAILSERVER.deployment, "--field-manager", "Terraform", "--overwrite", "reloader.stakater.com/search=false");
    await k("-n", MAILSERVER.namespace, "patch", "configmap", SIEVE_CM, "--type", "merge", "-p",
      JSON.stringify({ data: { [SIEVE_KEY]: `# reviewed by hand\n${declared}` } }));
    const run = await expectOnly({ "mailserver.sieve-installed": "error" });
    const text = problemText(run.report!, "mailserver.sieve-installed");
    expect(text).toMatch(/the running pod's \/var\/mail\/viktorbarzin\.me\/docs\/home\/\.dovecot\.sieve \(sha256 \w+…\) is not ConfigMap mailserver-sieve-docs-at-viktorbarzin\.me's/);
    expect(text).toMatch(/Reloader (has never rolled|last rolled) deploy\/mailserver/);
    expect(text).toContain("kubectl -n mailserver rollout restart deploy/mailserver");

    await k("-n", MAILSERVER.namespace, "annotate", "deploy", MAILSERVER.deployment, "--field-manager", "Terraform", "--overwrite", "reloader.stakater.com/search=true");
    await up("--refresh");
    await settled();
    await expectHealthy();
  });

  test("the mailserver's own stack drops our self-alias from postfix-virtual.cf (its drift job): account-live fails, naming the alias and the pod's files", async () => {
    const shared = (await kubectlJson(cluster.kubectl, cluster.kubeconfig, "-n", MAILSERVER.namespace, "get", "configmap", MAILSERVER.configMap)).data;
    const virtual = (shared["postfix-virtual.cf"] as string).split("\n")
      .filter((l) => !l.includes("paperless-mail-ingest docs at viktorbarzin.me") && l !== `${DOCS} ${DOCS}`).join("\n");
    await k("-n", MAILSERVER.namespace, "patch", "configmap", MAILSERVER.configMap, "--field-manager", "Terraform", "--type", "merge", "-p",
      JSON.stringify({ data: { "postfix-virtual.cf": virtual } }));
    // Reloader rolls the mailserver for the shared ConfigMap: the new pod starts without the alias.
    await settled();
    const run = await expectOnly({ "mailserver.account-live": "error" });
    expect(problemText(run.report!, "mailserver.account-live")).toContain(`lacks the self-alias \`${DOCS} ${DOCS}\``);

    await up("--refresh");
    await settled();
    await expectHealthy();
  });

  test("the processed folder is deleted in a mail client: mailbox.folders fails, saying how to create it", async () => {
    await asMailClient(`DELETE ${imapQuote("Processed")}`);
    const run = await expectOnly({ "mailbox.folders": "error" });
    expect(problemText(run.report!, "mailbox.folders")).toMatch(/folder Processed does not exist: paperless's MOVE fails[\s\S]*doveadm mailbox create -s -u docs@viktorbarzin\.me Processed/);

    await asMailClient(`CREATE ${imapQuote("Processed")}`, `SUBSCRIBE ${imapQuote("Processed")}`);
    await expectHealthy();
  });

  test("the mailbox password in Vault is rewritten by hand: the IMAP login and the account line fail, naming Vault", async () => {
    const password = await vaultPassword();
    await cluster.vault.api("POST", `secret/data/paperless-mail-ingest/${DOCS}`, { data: { username: DOCS, password: "rewritten-by-hand" } });
    const run = await expectOnly({ "mailbox.login": "error", "mailbox.folders": "warning", "mailserver.account-live": "error" });
    expect(problemText(run.report!, "mailbox.login")).toMatch(/login refused/);
    expect(problemText(run.report!, "mailserver.account-live")).toContain("does not hash the password in Vault");
    expect(problemText(run.report!, "mailbox.folders")).toContain("not checked: mailbox.login failed");
    expect(run.stdout + run.stderr).not.toContain("rewritten-by-hand");

    await up("--refresh");
    expect(await vaultPassword()).toBe(password);
    await expectHealthy();
  });
});

