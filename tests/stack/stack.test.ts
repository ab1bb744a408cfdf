// The whole program as a user runs it: the real Pulumi CLI runs the real index.ts from the
// project root (language host, kubernetes/vault/command plugins from scripts/build-tools.sh),
// against a real cluster on loopback (etcd, kube-apiserver, controller-manager, Reloader, a node
// agent whose mailserver pods run docker-mailserver's own start-up), Vault dev and a real
// paperless-ngx 3.0.5. The objects the program patches exist first, as in production. The program
// deploys as a ServiceAccount bound to exactly the Role `npm run render` writes (the assertions
// read with the admin's kubectl). Each scenario is asserted on the servers' state and on real mail.
import { truncateSync } from "node:fs";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { kubernetesRole } from "../../core/kubernetesRights";
import { markers } from "../../core/ownedLines";
import { readStackFile } from "../../stack/stackConfig";
import { vaultPolicy } from "../../core/vaultPolicy";
import { startCluster, type Cluster } from "../support/cluster/cluster";
import type { ProductionObjects } from "../support/cluster/productionObjects";
import { withoutRight } from "../support/cluster/rbac";
import { startFaultProxy, type FaultProxy } from "../support/faultProxy";
import type { Mailserver } from "../support/mailserver/mailserver";
import { admin, type Admin, type Row } from "../support/paperless/admin";
import { startPaperless, type PaperlessServer } from "../support/paperless/server";
import { forwardedMail } from "../support/mailserver/forwardedMail";
import { programStack, type Operation, type ProgramStack } from "../support/programStack";
import { eventually, key, kubectl, kubectlJson, type MailboxEntry, prodStack, type StackConfig, testStack } from "./scenarios";

jest.setTimeout(900_000);

const DOCS = "docs@viktorbarzin.me";
const RECEIPTS = "receipts@viktorbarzin.me";
const ANCA = "ancaelena98@gmail.com";

let cluster: Cluster;
let objects: ProductionObjects;
let paperless: PaperlessServer;
/** The program reaches paperless through it: it holds a request's answer while a test kills the CLI. */
let paperlessProxy: FaultProxy;
let api: Admin;
let stack: ProgramStack;
/** The token the program deploys with: exactly the README's policy (templates/vault-policy.hcl.mustache). */
let vaultToken: string;
let mailboxes: MailboxEntry[];
/** Message-ID of the first filed mail (scenario 1): it must outlive the rollback. */
let firstFiled: string;
/** The kubeconfig the program deploys with: ServiceAccount default/DEPLOYER, bound to the rendered Role only. */
let deployer: string;
const DEPLOYER = "pmi-deployer";
/** Seconds each lifecycle step took, printed at the end (README: measured times). */
const lifecycle: Record<string, number> = {};

const prod = prodStack();

function config(): StackConfig {
  return testStack(cluster, { mailboxes, paperlessUrl: paperlessProxy.url, fetchAfterChange: true, kubeconfig: deployer });
}

async function apply(step?: string): Promise<Operation> {
  stack.setConfig(config());
  const started = Date.now();
  const up = await stack.up();
  if (!up.ok) throw new Error(`pulumi up failed:\n${up.stdout.slice(-6000)}\n${up.stderr.slice(-3000)}`);
  if (step) lifecycle[step] = (Date.now() - started) / 1000;
  return up;
}

/** The Role `npm run render` writes for the stack file as it is now (kubernetes-role.yaml). */
const renderedRole = (): string => kubernetesRole(readStackFile(stack.stackFile).config);

/**
 * The steps of an operation as `op type::name`, sorted. Without the default dynamic-provider
 * provider: its inputs are the stack config, so every config edit updates it (on no server).
 */
const changed = (op: Operation) =>
  op.changes
    .filter((s) => s.resource !== "pulumi:providers:pulumi-nodejs::default")
    .map((s) => `${s.op} ${s.resource}`)
    .sort();

async function vaultRead(path: string): Promise<any> {
  const r = await cluster.vault.api("GET", `secret/data/paperless-mail-ingest/${path}`);
  return r.status === 200 ? r.json.data.data : undefined;
}

/** The mailserver pod `kubectl exec deploy/mailserver` reaches now, and its docker-mailserver. */
async function mailserverPod(): Promise<{ name: string; server: Mailserver }> {
  const server = await cluster.mailserver();
  const pods = await kubectlJson(cluster.kubectl, cluster.kubeconfig, "-n", "mailserver", "get", "pods", "-l", "app=mailserver");
  const pod = (pods.items as any[]).find((p) => server.instanceDir.includes(`/pods/${p.metadata.uid}/`));
  return { name: pod?.metadata.name ?? "(gone)", server };
}

async function deployment(): Promise<any> {
  return kubectlJson(cluster.kubectl, cluster.kubeconfig, "-n", "mailserver", "get", "deploy", "mailserver");
}

async function sharedConfig(): Promise<Record<string, string>> {
  return (await kubectlJson(cluster.kubectl, cluster.kubeconfig, "-n", "mailserver", "get", "configmap", "mailserver.config")).data;
}

/** Until the mailserver Deployment has rolled out and only its one new pod is left (Reloader may roll it after our writes). */
async function rolledOut(): Promise<void> {
  await eventually(
    "the mailserver rollout to settle",
    async () => {
      await kubectl(cluster.kubectl, cluster.kubeconfig, "-n", "mailserver", "rollout", "status", "deploy/mailserver", "--timeout=300s");
      const pods = await kubectlJson(cluster.kubectl, cluster.kubeconfig, "-n", "mailserver", "get", "pods", "-l", "app=mailserver");
      const dep = await deployment();
      const settled =
        pods.items.length === 1 && dep.status.observedGeneration === dep.metadata.generation && dep.status.updatedReplicas === 1;
      return settled ? true : undefined;
    },
    600_000,
  );
}

/** Delivers a forwarded mail to `to` through the live pod; where it was stored (`login:folder`), [] if discarded. */
async function forward(from: string, to: string, subject: string): Promise<{ id: string; stored: string[] }> {
  await rolledOut();
  const { server } = await mailserverPod();
  const mail = forwardedMail(from, to, subject);
  const delivery = await server.deliver({ mailFrom: "bounces@forwarder.test", rcptTo: [to] }, mail.text);
  expect(delivery.recipients).toEqual([expect.objectContaining({ status: "sent" })]);
  return { id: mail.id, stored: server.locate(mail.id) };
}

/** The real mail fetcher, run as the program's fetch trigger runs it: kubectl exec, as the paperless user. */
async function fetchMail(): Promise<void> {
  await kubectl(
    join(cluster.binDir, "kubectl"),
    cluster.kubeconfig,
    "-n",
    "paperless-ngx",
    "exec",
    "deploy/paperless-ngx",
    "-c",
    "paperless-ngx",
    "--",
    "s6-setuidgid",
    "paperless",
    "python3",
    "manage.py",
    "mail_fetcher",
  );
}

async function documents(): Promise<{ title: string; owner: number | null; tags: string[] }[]> {
  const tags = new Map((await api.list("/api/tags/")).map((t) => [t.id, t.name]));
  return (await api.list<Row & { title: string; tags: number[] }>("/api/documents/")).map((d) => ({
    title: d.title,
    owner: d.owner,
    tags: d.tags.map((t) => tags.get(t)!),
  }));
}

/** Everything the program could write to, read back: equal before and after means nothing was written. */
async function snapshot(): Promise<string> {
  const dep = await deployment();
  return JSON.stringify({
    config: await sharedConfig(),
    template: dep.spec.template,
    // Without deployment.kubernetes.io/revision: the Deployment controller's, not a write of ours.
    annotations: Object.fromEntries(
      Object.entries(dep.metadata.annotations ?? {}).filter(([k]) => !k.startsWith("deployment.kubernetes.io/")),
    ),
    sieves: (await kubectlJson(cluster.kubectl, cluster.kubeconfig, "-n", "mailserver", "get", "configmaps")).items.map(
      (c: any) => c.metadata.name,
    ),
    vault: await cluster.vault.api("LIST", "secret/metadata/paperless-mail-ingest").then((r) => r.json?.data?.keys ?? []),
    paperless: await api.snapshot(),
  });
}

/**
 * The README's recovery after a killed CLI ("Interrupted runs"), as a user meets it: the next
 * `up` refuses the dead run's lock; cancel, refresh clearing the interrupted creates, up. Then no
 * pending operation is left in the state.
 */
async function recoverFromKill(): Promise<void> {
  const locked = await stack.up();
  expect(locked.ok).toBe(false);
  expect(locked.stdout + locked.stderr).toContain("the stack is currently locked");
  await stack.cli("cancel", "--yes");
  const refresh = await stack.refresh("--clear-pending-creates");
  if (!refresh.ok) throw new Error(`pulumi refresh failed:\n${refresh.stdout.slice(-4000)}\n${refresh.stderr.slice(-2000)}`);
  await apply();
  expect(JSON.parse(await stack.cli("stack", "export")).deployment.pending_operations ?? []).toEqual([]);
}

/** Per mailbox one account line and one alias line (each in one block of ours), one paperless account, one Vault secret, one sieve mount; one rule per sender. */
async function exactlyOneOfEach(): Promise<void> {
  const shared = await sharedConfig();
  const container = (await deployment()).spec.template.spec.containers.find((c: any) => c.name === "docker-mailserver");
  for (const { address } of mailboxes) {
    for (const k of ["postfix-accounts.cf", "postfix-virtual.cf"]) {
      const lines = shared[k]!.split("\n");
      expect(lines.filter((l) => l === markers(address).begin)).toHaveLength(1);
      expect(lines.filter((l) => l.startsWith(k === "postfix-accounts.cf" ? `${address}|` : `${address} `))).toHaveLength(1);
    }
    expect(await vaultRead(address)).toEqual({ username: address, password: expect.stringMatching(/^[A-Za-z0-9]{32}$/) });
    expect(container.volumeMounts.filter((m: any) => m.mountPath.endsWith(`/${address}.dovecot.sieve`))).toHaveLength(1);
  }
  expect((await api.list<Row & { name: string }>("/api/mail_accounts/")).map((a) => a.name).sort()).toEqual(
    mailboxes.map((m) => m.address).sort(),
  );
  const rules = (await api.list<Row & { name: string }>("/api/mail_rules/")).map((r) => r.name).sort();
  expect(rules).toEqual(mailboxes.flatMap((m) => m.senders.map((s) => `forward: ${s.label ?? s.address}`)).sort());
}

beforeAll(async () => {
  const started = Date.now();
  [cluster, paperless] = await Promise.all([startCluster(), startPaperless("3.0.5", { users: ["root", "anca", "emo"], worker: true })]);
  api = admin(paperless);
  paperlessProxy = await startFaultProxy(paperless.url);
  objects = await cluster.installProductionObjects();
  cluster.attachPaperless(paperless);
  const policy = await cluster.vault.api("PUT", "sys/policies/acl/paperless-mail-ingest", {
    policy: vaultPolicy({ mount: "secret", pathPrefix: "paperless-mail-ingest" }),
  });
  expect(policy.status).toBe(204);
  vaultToken = (await cluster.vault.api("POST", "auth/token/create", { policies: ["paperless-mail-ingest"], ttl: "2h" })).json.auth
    .client_token;
  mailboxes = structuredClone(prod[key("mailboxes")]) as MailboxEntry[];
  stack = await programStack(`e2e-${Math.random().toString(36).slice(2, 8)}`, { path: [cluster.binDir] });
  deployer = await cluster.serviceAccount(DEPLOYER);
  stack.setConfig(config());
  await cluster.bindRoles(renderedRole(), DEPLOYER);
  await stack.setSecret(key("paperlessToken"), paperless.token);
  await stack.setSecret("vault:token", vaultToken);
  console.log(`stack suite: servers up in ${Math.round((Date.now() - started) / 1000)} s (cluster ${JSON.stringify(cluster.timings)})`);
});

afterAll(async () => {
  console.log(`stack suite: lifecycle as ServiceAccount ${DEPLOYER} with the rendered Role (s): ${JSON.stringify(lifecycle)}`);
  await stack?.dispose();
  await paperlessProxy?.close();
  await paperless?.stop();
  await cluster?.stop();
});

describe("the whole program through the real CLI", () => {
  test("7. a Deployment field owned by another manager fails the preview, naming the manager; nothing is written", async () => {
    // Production today: the Terraform stack mounts its own docs@ sieve where ours goes (README: Migration).
    const mountPath = `/tmp/docker-mailserver/${DOCS}.dovecot.sieve`;
    await kubectl(
      cluster.kubectl,
      cluster.kubeconfig,
      "-n",
      "mailserver",
      "patch",
      "deploy",
      "mailserver",
      "--field-manager",
      "Terraform",
      "--type",
      "strategic",
      "-p",
      JSON.stringify({
        spec: {
          template: {
            spec: {
              containers: [
                {
                  name: "docker-mailserver",
                  volumeMounts: [{ name: "config", mountPath, subPath: "docs-at-viktorbarzin.me.dovecot.sieve", readOnly: true }],
                },
              ],
            },
          },
        },
      }),
    );
    const before = await snapshot();
    stack.setConfig(config());
    const preview = await stack.preview();
    expect(preview.ok).toBe(false);
    expect(preview.errors.join("\n")).toMatch(/conflict with "Terraform"/);
    expect(preview.errors.join("\n")).toContain(mountPath);
    expect(await snapshot()).toBe(before);

    // The README's hand-over: the Terraform stack drops that mount; then the preview passes.
    const dep = await deployment();
    const mounts = dep.spec.template.spec.containers[0].volumeMounts as { mountPath: string }[];
    const at = mounts.findIndex((m) => m.mountPath === mountPath);
    await kubectl(
      cluster.kubectl,
      cluster.kubeconfig,
      "-n",
      "mailserver",
      "patch",
      "deploy",
      "mailserver",
      "--field-manager",
      "Terraform",
      "--type",
      "json",
      "-p",
      JSON.stringify([{ op: "remove", path: `/spec/template/spec/containers/0/volumeMounts/${at}` }]),
    );
  });

  test("8. a Vault token that may not write, or may not make its child token, fails the preview naming the capability; nothing is written", async () => {
    const before = await snapshot();
    const tokenWith = async (policy: string) => {
      const name = `limited-${Math.random().toString(36).slice(2, 8)}`;
      await cluster.vault.api("PUT", `sys/policies/acl/${name}`, { policy });
      return (await cluster.vault.api("POST", "auth/token/create", { policies: [name], ttl: "1h" })).json.auth.client_token as string;
    };
    const readOnly = await tokenWith(
      `path "secret/data/paperless-mail-ingest/*" { capabilities = ["read"] }\npath "auth/token/create" { capabilities = ["update"] }`,
    );
    const noChild = await tokenWith(
      vaultPolicy({ mount: "secret", pathPrefix: "paperless-mail-ingest" }).replace(/path "auth\/token\/create"[^}]*}/, ""),
    );
    for (const [token, missing] of [
      [readOnly, /create|update/],
      [noChild, /auth\/token\/create/],
    ] as const) {
      await stack.setSecret("vault:token", token);
      const preview = await stack.preview();
      expect(preview.ok).toBe(false);
      expect(preview.errors.join("\n")).toMatch(missing);
    }
    await stack.setSecret("vault:token", vaultToken);
    expect(await snapshot()).toBe(before);
  });

  test("1. first deploy: a listed sender's forwarded attachment becomes a document owned by the mapped user; a stranger's mail is discarded", async () => {
    const preview = await (stack.setConfig(config()), stack.preview());
    expect(preview.ok).toBe(true);
    expect(preview.changes.every((s) => s.op === "create")).toBe(true);
    await apply("first up");

    const anca = await forward(ANCA, DOCS, "Bank statement November");
    const stranger = await forward("mallory@evil.test", DOCS, "Invoice you must pay");
    expect(anca.stored).toEqual([`${DOCS}:INBOX`]);
    expect(stranger.stored).toEqual([]);
    await fetchMail();
    expect(await documents()).toEqual([{ title: "Bank statement November", owner: paperless.users.anca!.id, tags: ["email-ingest"] }]);
    expect((await mailserverPod()).server.locate(anca.id)).toEqual([`${DOCS}:Processed`]);
    firstFiled = anca.id;
    // Foreign lines of the shared files are untouched, and ours are there.
    const shared = await sharedConfig();
    for (const k of ["postfix-accounts.cf", "postfix-virtual.cf"]) {
      for (const line of objects.configData[k]!.trimEnd().split("\n")) expect(shared[k]!.split("\n")).toContain(line);
    }
    expect(shared["postfix-virtual.cf"]).toContain(`${DOCS} ${DOCS}`);
  });

  test("2. a second up with nothing changed changes nothing", async () => {
    const up = await apply();
    expect(changed(up)).toEqual([]);
  });

  test("3. adding a sender: the preview shows the sieve and one new rule; after up the pod has rolled, runs the new sieve, and the new sender's mail becomes a document", async () => {
    const podBefore = (await mailserverPod()).name;
    mailboxes[0]!.senders.push({ address: "anca.work@example.com", user: "anca", label: "Anca (work)" });
    stack.setConfig(config());
    const preview = await stack.preview();
    expect(changed(preview)).toEqual(
      expect.arrayContaining([
        "update kubernetes:core/v1:ConfigMap::docs-at-viktorbarzin.me",
        "create pulumi-nodejs:dynamic/paperless:PaperlessMailRule::docs-at-viktorbarzin.me-rule-anca.work@example.com",
        "update pulumi-nodejs:dynamic/paperless:PaperlessMailFetch::paperless-fetch",
      ]),
    );
    expect(changed(preview).filter((c) => !/Command::/.test(c))).toHaveLength(3);
    await apply("up adding a sender");
    const pod = await mailserverPod();
    expect(pod.name).not.toBe(podBefore);
    const mail = await forward("anca.work@example.com", DOCS, "Payslip");
    expect(mail.stored).toEqual([`${DOCS}:INBOX`]);
    await fetchMail();
    expect(await documents()).toContainEqual({ title: "Payslip", owner: paperless.users.anca!.id, tags: ["email-ingest"] });
  });

  test("4. changing an owner updates one rule, and the program has paperless fetch (fetchAfterChange): mail waiting in INBOX is filed when up ends; removing a sender deletes its rule and their mail is then discarded", async () => {
    const waiting = await forward(ANCA, DOCS, "Waiting for a fetch");
    expect(waiting.stored).toEqual([`${DOCS}:INBOX`]);
    mailboxes[0]!.senders.find((s) => s.address === "anca.work@example.com")!.user = "emo";
    const owner = await apply();
    expect(changed(owner).filter((c) => !/Command::/.test(c))).toEqual([
      "update pulumi-nodejs:dynamic/paperless:PaperlessMailFetch::paperless-fetch",
      "update pulumi-nodejs:dynamic/paperless:PaperlessMailRule::docs-at-viktorbarzin.me-rule-anca.work@example.com",
    ]);
    // No fetch by hand: the program's own, through paperless's API, filed it before up ended.
    expect(await documents()).toContainEqual({ title: "Waiting for a fetch", owner: paperless.users.anca!.id, tags: ["email-ingest"] });
    // paperless moves the mail once its documents are filed (docs/paperless-api.md, Fetching mail).
    await eventually("paperless to move the fetched mail to Processed", async () =>
      (await mailserverPod()).server.locate(waiting.id)[0] === `${DOCS}:Processed` ? true : undefined,
    );
    mailboxes[0]!.senders = mailboxes[0]!.senders.filter((s) => s.address !== "anca.work@example.com");
    const removed = await apply();
    expect(changed(removed).filter((c) => !/Command::/.test(c))).toEqual(
      [
        "delete pulumi-nodejs:dynamic/paperless:PaperlessMailRule::docs-at-viktorbarzin.me-rule-anca.work@example.com",
        "update kubernetes:core/v1:ConfigMap::docs-at-viktorbarzin.me",
        "update pulumi-nodejs:dynamic/paperless:PaperlessMailFetch::paperless-fetch",
      ].sort(),
    );
    const mail = await forward("anca.work@example.com", DOCS, "After removal");
    expect(mail.stored).toEqual([]);
  });

  test("5. a second ingest mailbox (receipts@) beside docs@: the preview asks for its ConfigMap in the Role, then up works", async () => {
    mailboxes.push({ address: RECEIPTS, senders: [{ address: "emil.barzin@gmail.com", user: "emo", label: "Emo (receipts)" }] });
    stack.setConfig(config());
    const before = await snapshot();
    const preview = await stack.preview();
    expect(preview.ok).toBe(false);
    expect(preview.errors.join("\n")).toContain(
      'get, create, patch, delete configmaps in namespace mailserver ("mailserver-sieve-receipts-at-viktorbarzin.me"): each mailbox\'s sieve ConfigMap',
    );
    expect(await snapshot()).toBe(before);
    // The README's step: apply the Role rendered for the new config, then up.
    await cluster.bindRoles(renderedRole(), DEPLOYER);
    await apply();
    const receipt = await forward("emil.barzin@gmail.com", RECEIPTS, "Till receipt");
    expect(receipt.stored).toEqual([`${RECEIPTS}:INBOX`]);
    const docs = await forward(ANCA, DOCS, "Still docs");
    expect(docs.stored).toEqual([`${DOCS}:INBOX`]);
    await fetchMail();
    expect(await documents()).toEqual(
      expect.arrayContaining([
        { title: "Till receipt", owner: paperless.users.emo!.id, tags: ["email-ingest"] },
        { title: "Still docs", owner: paperless.users.anca!.id, tags: ["email-ingest"] },
      ]),
    );
  });

  test("6. drift made by hand shows on refresh and up restores it, foreign lines kept", async () => {
    // The sieve ConfigMap edited with kubectl, a foreign line added to the shared file and our alias
    // line removed, a rule edited in paperless, the Vault secret rewritten.
    await kubectl(
      cluster.kubectl,
      cluster.kubeconfig,
      "-n",
      "mailserver",
      "patch",
      "configmap",
      "mailserver-sieve-docs-at-viktorbarzin.me",
      "--type",
      "merge",
      "-p",
      JSON.stringify({ data: { "docs-at-viktorbarzin.me.dovecot.sieve": "# edited by hand\nkeep;\n" } }),
    );
    const shared = await sharedConfig();
    const virtual =
      shared["postfix-virtual.cf"]!.split("\n")
        .filter((l) => l !== `${DOCS} ${DOCS}`)
        .join("\n") + "abuse@viktorbarzin.me admin@viktorbarzin.me\n";
    await kubectl(
      cluster.kubectl,
      cluster.kubeconfig,
      "-n",
      "mailserver",
      "patch",
      "configmap",
      "mailserver.config",
      "--field-manager",
      "Terraform",
      "--type",
      "merge",
      "-p",
      JSON.stringify({ data: { "postfix-virtual.cf": virtual } }),
    );
    const rule = (await api.list<Row & { filter_from: string }>("/api/mail_rules/")).find((r) => r.filter_from === ANCA)!;
    await api.request("PATCH", `/api/mail_rules/${rule.id}/`, { filter_subject: "invoice" });
    const password = (await vaultRead(DOCS)).password;
    await cluster.vault.api("POST", `secret/data/paperless-mail-ingest/${DOCS}`, { data: { username: DOCS, password: "hand-set" } });

    const refreshed = Date.now();
    const refresh = await stack.refresh();
    lifecycle.refresh = (Date.now() - refreshed) / 1000;
    expect(refresh.ok).toBe(true);
    expect(changed(refresh)).toEqual(
      expect.arrayContaining([
        "update kubernetes:core/v1:ConfigMap::docs-at-viktorbarzin.me",
        "update pulumi-nodejs:dynamic/kubernetes:ConfigMapLines::docs-at-viktorbarzin.me-alias-line",
        `update pulumi-nodejs:dynamic/paperless:PaperlessMailRule::docs-at-viktorbarzin.me-rule-${ANCA}`,
        "update vault:generic/secret:Secret::docs-at-viktorbarzin.me",
      ]),
    );
    await apply();
    expect((await sharedConfig())["postfix-virtual.cf"]).toContain(`${DOCS} ${DOCS}`);
    expect((await sharedConfig())["postfix-virtual.cf"]).toContain("abuse@viktorbarzin.me admin@viktorbarzin.me");
    expect((await api.request<{ filter_subject: string | null }>("GET", `/api/mail_rules/${rule.id}/`)).filter_subject).toBeFalsy();
    expect((await vaultRead(DOCS)).password).toBe(password);
    // Reloader rolls the mailserver for the restored sieve, and docker-mailserver installs it.
    const mail = await eventually("the restored sieve to discard a stranger again", async () => {
      const m = await forward("mallory@evil.test", DOCS, "Drift probe");
      return m.stored.length === 0 ? m : undefined;
    });
    expect(mail.stored).toEqual([]);
    const after = await apply();
    expect(changed(after)).toEqual([]);
  });

  test("10. neither the stack export nor any output holds a password or token", async () => {
    const exported = await stack.cli("stack", "export", "--show-secrets=false");
    const secrets = [paperless.token, vaultToken, (await vaultRead(DOCS)).password, (await vaultRead(RECEIPTS)).password];
    for (const s of secrets) {
      expect(exported).not.toContain(s);
      for (const text of stack.transcript) expect(text).not.toContain(s);
    }
  });

  test("12. killed (kill -9) mid-up in the paperless steps, its new rule created but unanswered: the README's recovery ends with one of each and the sender's mail filed", async () => {
    mailboxes[0]!.senders.push({ address: "anca.bank@example.com", user: "anca", label: "Anca (bank)" });
    stack.setConfig(config());
    // paperless creates the rule, and the answer never comes: the CLI dies not knowing it exists.
    paperlessProxy.inject({ kind: "hang", method: "POST", path: /^\/api\/mail_rules\//, landed: true });
    const hasRule = async () =>
      (await api.list<Row & { filter_from: string }>("/api/mail_rules/")).some((r) => r.filter_from === "anca.bank@example.com");
    const killed = await stack.upKilledWhen(async () => paperlessProxy.requests.some((r) => r.fault === "hang") && (await hasRule()));
    expect(killed.changes).toContainEqual(
      expect.objectContaining({
        op: "create",
        resource: "pulumi-nodejs:dynamic/paperless:PaperlessMailRule::docs-at-viktorbarzin.me-rule-anca.bank@example.com",
      }),
    );
    // Killed while it wrote the state file, the file backend leaves the checkpoint's side file empty
    // (gocloud fileblob writes <file>.attrs, then the file): made here as that instant leaves it.
    const sideFile = join(stack.dir, "backend", ".pulumi", "stacks", "paperless-mail-ingest", `${stack.name}.json.attrs`);
    truncateSync(sideFile, 0);
    await expect(stack.cli("cancel", "--yes")).rejects.toThrow(/failed to load checkpoint: EOF/);
    // The README's first step for the file backend: delete the empty side files.
    await new Promise<void>((resolve, reject) =>
      execFile("find", [join(stack.dir, "backend", ".pulumi"), "-name", "*.attrs", "-empty", "-delete"], (e: Error | null) =>
        e ? reject(e) : resolve(),
      ),
    );
    await recoverFromKill();
    await exactlyOneOfEach();
    const mail = await forward("anca.bank@example.com", DOCS, "Bank letter");
    expect(mail.stored).toEqual([`${DOCS}:INBOX`]);
    await fetchMail();
    expect(await documents()).toContainEqual({ title: "Bank letter", owner: paperless.users.anca!.id, tags: ["email-ingest"] });
  });

  test("11. an identity missing one right: preview and destroy fail at once naming it; nothing is written or deleted", async () => {
    const role = renderedRole();
    const before = await snapshot();
    await cluster.bindRoles(withoutRight(role, { resource: "configmaps", verbs: ["watch"] }), DEPLOYER);
    const preview = await stack.preview();
    expect(preview.ok).toBe(false);
    expect(preview.errors.join("\n")).toMatch(
      /may not do what `pulumi up` needs; missing:\n {2}- watch configmaps in namespace mailserver: the Kubernetes provider confirms/,
    );
    // Without list and watch on ConfigMaps the provider's delete of the sieve ConfigMap would wait for ever.
    await cluster.bindRoles(withoutRight(role, { resource: "configmaps", verbs: ["list", "watch"] }), DEPLOYER);
    const destroy = await stack.destroy();
    expect(destroy.ok).toBe(false);
    expect(destroy.errors.join("\n")).toMatch(
      /may not do what `pulumi destroy` needs; missing:\n {2}- list, watch configmaps in namespace mailserver/,
    );
    // The check is the first step of a destroy: nothing else was started.
    expect(destroy.changes.map((s) => `${s.op} ${s.resource}`)).toEqual([
      "delete pulumi-nodejs:dynamic/kubernetes:KubernetesRights::kubernetes-rights",
    ]);
    expect(await snapshot()).toBe(before);
    await cluster.bindRoles(role, DEPLOYER);
  });

  // Day-to-day changes between mailboxes, each in one `pulumi up` with real mail before and after,
  // and hand edits in paperless seen by a plain preview (README "Day-to-day changes").
  const RULE = "pulumi-nodejs:dynamic/paperless:PaperlessMailRule";
  const docsBox = () => mailboxes.find((m) => m.address === DOCS)!;
  const receiptsBox = () => mailboxes.find((m) => m.address === RECEIPTS)!;
  /** The paperless rules for `sender`: name and the mail account they are on. */
  async function rulesFor(sender: string): Promise<{ name: string; account: string }[]> {
    const accounts = await api.list("/api/mail_accounts/");
    return (await api.list<Row & { filter_from: string; account: number }>("/api/mail_rules/"))
      .filter((r) => r.filter_from === sender)
      .map((r) => ({ name: r.name, account: accounts.find((a) => a.id === r.account)!.name }));
  }
  /** A mail from `sender` to each mailbox; where one is kept, a rule for the sender is on that mailbox's account. */
  async function keptOnlyWithRule(sender: string, subject: string): Promise<Record<string, string[]>> {
    const kept: Record<string, string[]> = {};
    for (const box of [DOCS, RECEIPTS]) {
      kept[box] = (await forward(sender, box, `${subject} to ${box}`)).stored;
      if (kept[box].length) expect((await rulesFor(sender)).map((r) => r.account)).toContain(box);
    }
    return kept;
  }
  const moveSender = (address: string, from: MailboxEntry, to: MailboxEntry) => {
    to.senders.push(from.senders.find((s) => s.address === address)!);
    from.senders = from.senders.filter((s) => s.address !== address);
  };

  test("14. moving a sender from docs@ to receipts@ in one up: its rule is on receipts@'s account before that sieve keeps the mail; the old rule files what docs@ kept until the end", async () => {
    const before = await forward(ANCA, DOCS, "Before the move");
    expect(before.stored).toEqual([`${DOCS}:INBOX`]);
    moveSender(ANCA, docsBox(), receiptsBox());
    const up = await apply();
    // No other rule changes: docs@'s senders after Anca keep their order (one default order).
    expect(changed(up).filter((c) => !/Command::/.test(c))).toEqual(
      [
        `create ${RULE}::receipts-at-viktorbarzin.me-rule-${ANCA}`,
        `delete ${RULE}::docs-at-viktorbarzin.me-rule-${ANCA}`,
        "update kubernetes:core/v1:ConfigMap::docs-at-viktorbarzin.me",
        "update kubernetes:core/v1:ConfigMap::receipts-at-viktorbarzin.me",
        "update pulumi-nodejs:dynamic/paperless:PaperlessMailFetch::paperless-fetch",
      ].sort(),
    );
    expect(await rulesFor(ANCA)).toEqual([{ name: "forward: Anca", account: RECEIPTS }]);
    // The up's fetch ran while docs@ still had the rule (renamed aside; it is deleted last): nothing was stranded in docs@.
    expect((await mailserverPod()).server.locate(before.id)).toEqual([`${DOCS}:Processed`]);
    expect(await keptOnlyWithRule(ANCA, "After the move")).toEqual({ [DOCS]: [], [RECEIPTS]: [`${RECEIPTS}:INBOX`] });
    await fetchMail();
    expect(await documents()).toEqual(
      expect.arrayContaining([
        { title: "Before the move", owner: paperless.users.anca!.id, tags: ["email-ingest"] },
        { title: `After the move to ${RECEIPTS}`, owner: paperless.users.anca!.id, tags: ["email-ingest"] },
      ]),
    );
  });

  test("15. a move whose new rule cannot be made (paperless answers 500) fails with the mail kept only where a rule files it; the next up completes it", async () => {
    moveSender(ANCA, receiptsBox(), docsBox());
    stack.setConfig(config());
    paperlessProxy.inject({ kind: "status", status: 500, method: "POST", path: /^\/api\/mail_rules\//, times: 20 });
    const failed = await stack.up();
    paperlessProxy.reset();
    expect(failed.ok).toBe(false);
    expect(failed.errors.join("\n")).toContain("injected fault: 500 (POST /api/mail_rules/ → 500)");
    // docs@ does not keep the sender's mail yet (its rule could not be made); receipts@ either still does, with its rule, or has let go.
    expect((await keptOnlyWithRule(ANCA, "During the failed move"))[DOCS]).toEqual([]);
    await apply();
    expect(await rulesFor(ANCA)).toEqual([{ name: "forward: Anca", account: DOCS }]);
    expect(await keptOnlyWithRule(ANCA, "After the completed move")).toEqual({ [DOCS]: [`${DOCS}:INBOX`], [RECEIPTS]: [] });
  });

  test("16. renaming a sender's label updates its one rule in place, which then files their mail", async () => {
    const id = (await api.list<Row & { filter_from: string }>("/api/mail_rules/")).find((r) => r.filter_from === ANCA)!.id;
    docsBox().senders.find((s) => s.address === ANCA)!.label = "Anca (docs)";
    const up = await apply();
    expect(changed(up).filter((c) => !/Command::/.test(c))).toEqual([
      "update pulumi-nodejs:dynamic/paperless:PaperlessMailFetch::paperless-fetch",
      `update ${RULE}::docs-at-viktorbarzin.me-rule-${ANCA}`,
    ]);
    expect((await api.request<Row>("GET", `/api/mail_rules/${id}/`)).name).toBe("forward: Anca (docs)");
    expect((await forward(ANCA, DOCS, "After the rename")).stored).toEqual([`${DOCS}:INBOX`]);
    await fetchMail();
    expect(await documents()).toContainEqual({ title: "After the rename", owner: paperless.users.anca!.id, tags: ["email-ingest"] });
  });

  test("17. a rule deleted and one edited in the paperless UI show on a plain preview, naming what changed; up puts them back", async () => {
    const rules = await api.list<Row & { filter_from: string }>("/api/mail_rules/");
    await api.request("DELETE", `/api/mail_rules/${rules.find((r) => r.filter_from === ANCA)!.id}/`);
    const me = rules.find((r) => r.filter_from === "me@viktorbarzin.me")!;
    await api.request("PATCH", `/api/mail_rules/${me.id}/`, { filter_subject: "invoice", order: 1 });

    const preview = await (stack.setConfig(config()), stack.preview());
    expect(preview.ok).toBe(true);
    // The deleted rule is a replacement (made anew; the gone one's state dropped last), the edited one an update.
    expect(changed(preview).filter((c) => !/Command::/.test(c))).toEqual([
      `delete-replaced ${RULE}::docs-at-viktorbarzin.me-rule-${ANCA}`,
      `update ${RULE}::docs-at-viktorbarzin.me-rule-me@viktorbarzin.me`,
    ]);
    expect(preview.stdout + preview.stderr).toMatch(
      /mail rule "forward: Anca \(docs\)" \(id \d+\) on \S+ is gone \(deleted by hand\?\): up creates it again/,
    );
    expect(preview.stdout + preview.stderr).toContain(
      `mail rule "forward: Viktor (me@)" (id ${me.id}) on ${paperlessProxy.url} was changed outside this stack (order, filter_subject)`,
    );
    await apply();
    expect(await rulesFor(ANCA)).toEqual([{ name: "forward: Anca (docs)", account: DOCS }]);
    const restored = await api.request<Row & { filter_subject: string | null; order: number }>("GET", `/api/mail_rules/${me.id}/`);
    expect([restored.filter_subject || "", restored.order]).toEqual(["", 100]);
    expect((await forward(ANCA, DOCS, "After the hand delete")).stored).toEqual([`${DOCS}:INBOX`]);
    await fetchMail();
    expect(await documents()).toContainEqual({ title: "After the hand delete", owner: paperless.users.anca!.id, tags: ["email-ingest"] });
    expect(changed(await stack.preview())).toEqual([]);
  });

  test("18. removing a mailbox (receipts@) in one up: its sieve, mount, lines, secret and paperless account go; docs@ works on", async () => {
    const emo = receiptsBox().senders[0]!.address;
    expect((await forward(emo, RECEIPTS, "Before the removal")).stored).toEqual([`${RECEIPTS}:INBOX`]);
    mailboxes = mailboxes.filter((m) => m !== receiptsBox());
    await apply();
    expect((await api.list("/api/mail_accounts/")).map((a) => a.name)).toEqual([DOCS]);
    expect(await vaultRead(RECEIPTS)).toBeUndefined();
    expect(JSON.stringify((await deployment()).spec.template)).not.toMatch(/receipts/i); // volume, mount, Reloader's variable
    expect((await sharedConfig())["postfix-virtual.cf"]).not.toContain(RECEIPTS);
    // With its account line and self-alias gone, the domain's catch-all takes receipts@'s mail, as before it was added.
    expect((await forward(emo, RECEIPTS, "After the removal")).stored).toEqual([`${objects.mailboxes.spam.address}:INBOX`]);
    expect((await forward(ANCA, DOCS, "After the mailbox removal")).stored).toEqual([`${DOCS}:INBOX`]);
  });

  test("9. destroy: the runbook's rollback; stored mail and the tag in use stay, and mail flows unfiltered afterwards", async () => {
    const docsBefore = await documents();
    const podBefore = (await mailserverPod()).name;
    const destroyed = Date.now();
    const destroy = await stack.destroy();
    lifecycle.destroy = (Date.now() - destroyed) / 1000;
    if (!destroy.ok) throw new Error(`pulumi destroy failed:\n${destroy.stdout.slice(-6000)}\n${destroy.stderr.slice(-3000)}`);
    expect(await api.list("/api/mail_rules/")).toEqual([]);
    expect(await api.list("/api/mail_accounts/")).toEqual([]);
    expect((await api.list("/api/tags/")).map((t) => t.name)).toEqual(["email-ingest"]);
    expect(await documents()).toEqual(docsBefore);
    const dep = await deployment();
    const container = dep.spec.template.spec.containers.find((c: any) => c.name === "docker-mailserver");
    expect(JSON.stringify(dep.spec.template.spec.volumes)).not.toContain("sieve");
    expect(JSON.stringify(container.volumeMounts)).not.toContain("dovecot.sieve");
    expect(JSON.stringify(container.env ?? [])).not.toContain("SIEVE");
    const shared = await sharedConfig();
    expect(shared).toEqual({ ...objects.configData, "postfix-virtual.cf": expect.any(String) });
    expect(shared["postfix-virtual.cf"]).not.toContain(`${DOCS} ${DOCS}`);
    expect(await vaultRead(DOCS)).toBeUndefined();
    // The Deployment rolled without our mount and started; the installed copy is gone, stored mail stays.
    const pod = await mailserverPod();
    expect(pod.name).not.toBe(podBefore);
    const home = await pod.server.exec("ls -a /var/mail/viktorbarzin.me/docs/home/");
    expect(home.stdout).not.toMatch(/\.dovecot\.(sieve|svbin)/);
    expect(pod.server.locate(firstFiled)).toEqual([`${DOCS}:Processed`]);
    // Nothing filters docs@ any more: a stranger's mail is no longer discarded (with our account and
    // self-alias gone, the domain catch-all takes it, as before the first deploy).
    expect((await forward("mallory@evil.test", DOCS, "After rollback")).stored).toEqual([`${objects.mailboxes.spam.address}:INBOX`]);
  });

  test("13. killed (kill -9) mid-first-up in the Kubernetes steps, waiting for the mailserver: the README's recovery ends with one of each and mail filed", async () => {
    mailboxes = structuredClone(prod[key("mailboxes")]) as MailboxEntry[];
    stack.setConfig(config());
    await cluster.bindRoles(renderedRole(), DEPLOYER);
    // Everything of the mailserver side is written (the ready step runs after it), the ready step's
    // kubectl waits for Reloader's rollout: killed there.
    const killed = await stack.upKilledWhen((steps) =>
      steps.some((s) => s.resource === "command:local:Command::docs-at-viktorbarzin.me-ready"),
    );
    expect(killed.changes).toContainEqual(
      expect.objectContaining({ op: "create", resource: "kubernetes:core/v1:ConfigMap::docs-at-viktorbarzin.me" }),
    );
    await recoverFromKill();
    await exactlyOneOfEach();
    const mail = await forward(ANCA, DOCS, "After the crash");
    expect(mail.stored).toEqual([`${DOCS}:INBOX`]);
    expect((await forward("mallory@evil.test", DOCS, "Stranger after the crash")).stored).toEqual([]);
    await fetchMail();
    expect(await documents()).toContainEqual({ title: "After the crash", owner: paperless.users.anca!.id, tags: ["email-ingest"] });
  });
});
