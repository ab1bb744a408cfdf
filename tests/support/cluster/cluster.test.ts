// The test cluster itself: what the whole-program suite relies on, checked against the real
// servers it runs (kube-apiserver, controller-manager, Reloader, Vault, docker-mailserver).
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { stringify } from "yaml";
import { ImapClient } from "../mailserver/imap";
import { sendMail } from "../mailserver/smtp";
import { startPaperless, type PaperlessServer } from "../paperless/server";
import { startCluster, type Cluster } from "./cluster";
import { MAILSERVER, PAPERLESS, type ProductionObjects } from "./productionObjects";
import { withoutRight } from "./rbac";

jest.setTimeout(300_000);

let cluster: Cluster;
let objects: ProductionObjects;
/** Started beside the cluster rather than after it; attached to the cluster by its own test. */
let paperless: PaperlessServer;

/** A shell command as a user's terminal runs it: the cluster's environment, the kubectl shim first on PATH. */
function sh(command: string, input?: string): { code: number | null; out: string; err: string } {
  const r = spawnSync("sh", ["-c", command], { encoding: "utf8", env: { ...process.env, ...cluster.env }, ...(input ? { input } : {}) });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const inMailserver = (script: string) =>
  sh(`kubectl -n ${MAILSERVER.namespace} exec deploy/${MAILSERVER.deployment} -c ${MAILSERVER.container} -- sh -c '${script}'`);

async function mailTo(address: string): Promise<string> {
  const messageId = `<${randomBytes(8).toString("hex")}@cluster.test>`;
  const { port } = cluster.service(MAILSERVER.namespace, MAILSERVER.service, 25);
  await sendMail(
    port,
    { mailFrom: "someone@example.org", rcptTo: [address] },
    `From: someone@example.org\r\nTo: ${address}\r\nSubject: cluster test\r\nMessage-ID: ${messageId}\r\n\r\nhello\r\n`,
  );
  return messageId;
}

/** Messages in INBOX of `mailbox` holding this Message-ID, read over IMAP through the Service. */
async function inbox(mailbox: { address: string; password: string }, messageId: string): Promise<number[]> {
  const imap = await ImapClient.open(cluster.service(MAILSERVER.namespace, MAILSERVER.service, 143).port);
  try {
    const login = await imap.login(mailbox.address, mailbox.password);
    if (login.status !== "OK") throw new Error(`IMAP LOGIN ${mailbox.address}: ${login.text}`);
    await imap.command("SELECT INBOX");
    return await imap.searchHeader("Message-ID", messageId);
  } finally {
    await imap.close();
  }
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  // Each kept as soon as it runs, so afterAll stops it also when the other failed to start.
  const starts = await Promise.allSettled([
    startCluster().then((c) => (cluster = c)),
    startPaperless("3.0.5").then((p) => (paperless = p)),
  ]);
  for (const s of starts) if (s.status === "rejected") throw s.reason;
  process.stdout.write(`test cluster ready: ${JSON.stringify(cluster.timings)}\n`);
  const started = Date.now();
  objects = await cluster.installProductionObjects();
  process.stdout.write(`production objects, mailserver rolled out: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
});
afterAll(async () => {
  await paperless?.stop();
  await cluster?.stop();
});

describe("the test cluster", () => {
  it("has a Ready node, Vault with KV v2 at secret/, and the production objects as their owner made them", async () => {
    expect(sh("kubectl get nodes -o jsonpath='{.items[*].status.conditions[?(@.type==\"Ready\")].status}'").out).toBe("True");
    const mount = await cluster.vault.api("GET", "sys/mounts/secret");
    expect(mount.json.data ?? mount.json).toMatchObject({ type: "kv", options: { version: "2" } });
    const managers = (object: string) =>
      sh(`kubectl -n ${MAILSERVER.namespace} get ${object} -o jsonpath='{.metadata.managedFields[*].manager}'`).out.split(" ");
    expect(managers(`configmap/${MAILSERVER.configMap}`)).toEqual(["Terraform"]);
    // The Deployment's status is the controller-manager's.
    expect(managers(`deploy/${MAILSERVER.deployment}`)).toEqual(["Terraform", "kube-controller-manager"]);
    expect(
      sh(
        `kubectl -n ${MAILSERVER.namespace} get deploy/${MAILSERVER.deployment} -o jsonpath='{.metadata.annotations.reloader\\.stakater\\.com/search}'`,
      ).out,
    ).toBe("true");
    expect(
      sh(
        `kubectl -n ${MAILSERVER.namespace} get configmap ${MAILSERVER.configMap} -o jsonpath='{.metadata.annotations.reloader\\.stakater\\.com/match}'`,
      ).out,
    ).toBe("true");
    expect(objects.configData["postfix-virtual.cf"]).toContain("@viktorbarzin.me spam@viktorbarzin.me\n");
  });

  it("runs docker-mailserver in the mailserver pod with each ConfigMap key as a read-only file in /tmp/docker-mailserver", () => {
    for (const [key, text] of Object.entries(objects.configData)) {
      expect(inMailserver(`cat /tmp/docker-mailserver/${key}`)).toMatchObject({ code: 0, out: text });
    }
    const write = inMailserver("echo x >> /tmp/docker-mailserver/postfix-virtual.cf");
    expect(write.code).not.toBe(0);
    expect(write.err).toMatch(/Read-only file system/);
  });

  it("kubectl (the shim) execs as kubectl does: exit codes, stdin, kubectl's errors, everything else to the real kubectl", () => {
    expect(inMailserver("exit 3")).toMatchObject({ code: 3, err: "command terminated with exit code 3\n" });
    expect(sh(`kubectl -n ${MAILSERVER.namespace} exec -i deploy/${MAILSERVER.deployment} -- cat`, "from stdin\n")).toMatchObject({
      code: 0,
      out: "from stdin\n",
    });
    const wrong = sh(`kubectl -n ${MAILSERVER.namespace} exec deploy/${MAILSERVER.deployment} -c mailserver -- true`);
    expect(wrong).toMatchObject({
      code: 1,
      err: expect.stringMatching(/^Error from server \(BadRequest\): container mailserver is not valid for pod mailserver-/),
    });
    expect(sh(`kubectl --context nowhere -n ${MAILSERVER.namespace} exec deploy/${MAILSERVER.deployment} -- true`)).toMatchObject({
      code: 1,
      err: 'error: context "nowhere" does not exist\n',
    });
    expect(sh(`kubectl -n ${MAILSERVER.namespace} exec deploy/nothing -- true`)).toMatchObject({
      code: 1,
      err: 'Error from server (NotFound): deployments.apps "nothing" not found\n',
    });
    expect(sh("kubectl version -o json").out).toContain('"gitVersion": "v1.35.4"');
    expect(sh('head -2 "$(command -v kubectl)"').out).toMatch(/kubectl SHIM of the paperless-mail-ingest test cluster/);
  });

  it("kubectl exec (the shim) needs exactly the rights real kubectl needs: get the Deployment, list its pods, create pods/exec", async () => {
    const kubeconfig = await cluster.serviceAccount("exec-only");
    const role = stringify({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "exec-only", namespace: MAILSERVER.namespace },
      rules: [
        { apiGroups: ["apps"], resources: ["deployments"], resourceNames: [MAILSERVER.deployment], verbs: ["get"] },
        { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
        { apiGroups: [""], resources: ["pods/exec"], verbs: ["create"] },
      ],
    });
    const exec = async () =>
      sh(
        `KUBECONFIG=${kubeconfig} kubectl -n ${MAILSERVER.namespace} exec deploy/${MAILSERVER.deployment} -c ${MAILSERVER.container} -- echo in`,
      );
    // RBAC sees a changed Role a moment after the write: wait for the outcome, never for a fixed time.
    const outcome = (code: number, err: RegExp) =>
      eventually(
        `exec to end ${code} with ${err}`,
        async () => {
          const r = await exec();
          return r.code === code && err.test(r.err) ? r : undefined;
        },
        10_000,
      );
    await cluster.bindRoles(role, "exec-only");
    expect((await outcome(0, /^$/)).out).toBe("in\n");
    const refusals: [string, string, RegExp][] = [
      [
        "deployments",
        "get",
        /^Error from server \(Forbidden\): deployments.apps "mailserver" is forbidden: .* cannot get resource "deployments" in API group "apps"/,
      ],
      ["pods", "list", /^Error from server \(Forbidden\): pods is forbidden: .* cannot list resource "pods"/],
      ["pods/exec", "create", /cannot create resource "pods\/exec"/],
    ];
    for (const [resource, verb, err] of refusals) {
      await cluster.bindRoles(withoutRight(role, { resource, verbs: [verb] }), "exec-only");
      expect((await outcome(1, err)).out).toBe("");
    }
  });

  it("execs manage.py of the attached paperless-ngx server in the paperless-ngx pod", async () => {
    const target = `-n ${PAPERLESS.namespace} exec deploy/${PAPERLESS.deployment} -c ${PAPERLESS.container} --`;
    expect(sh(`kubectl ${target} s6-setuidgid paperless python3 manage.py mail_fetcher`)).toMatchObject({
      code: 127,
      err: expect.stringContaining("no paperless-ngx server is attached"),
    });
    cluster.attachPaperless(paperless);
    // The same database the server uses: a user made through the pod is there for the API.
    expect(
      sh(
        `kubectl ${target} s6-setuidgid paperless python3 manage.py shell -c 'from django.contrib.auth.models import User; User.objects.create(username="via-exec")'`,
      ).code,
    ).toBe(0);
    const users = (await (
      await fetch(`${paperless.url}/api/users/?page_size=1000`, { headers: { authorization: `Token ${paperless.token}` } })
    ).json()) as { results: { username: string }[] };
    expect(users.results.map((u) => u.username)).toContain("via-exec");
    expect(sh(`kubectl ${target} s6-setuidgid paperless python3 manage.py mail_fetcher`).code).toBe(0);
    expect(sh(`kubectl ${target} rm -rf /`)).toMatchObject({ code: 127 });
  });

  it("reaches the running mailserver pod at the Service's address: SMTP in, IMAP out", async () => {
    const id = await mailTo(objects.mailboxes.admin.address);
    expect(
      await eventually("the mail in admin@'s INBOX", async () => ((await inbox(objects.mailboxes.admin, id)).length ? true : undefined)),
    ).toBe(true);
    // The @domain catch-all of the foreign virtual map takes mail for unknown users to spam@.
    const stray = await mailTo("nobody@viktorbarzin.me");
    expect(
      await eventually("the stray mail in spam@", async () => ((await inbox(objects.mailboxes.spam, stray)).length ? true : undefined)),
    ).toBe(true);
    expect((await cluster.mailserver()).locate(stray)).toEqual(["spam@viktorbarzin.me:INBOX"]);
  });

  it("rolls the mailserver when Reloader sees a data change of mailserver.config; the new pod reads the new file, the mail stays", async () => {
    const before = await cluster.mailserver();
    const kept = await mailTo(objects.mailboxes.admin.address);
    await eventually("delivery", async () => ((await inbox(objects.mailboxes.admin, kept)).length ? true : undefined));
    const started = Date.now();
    const patch = JSON.stringify({ data: { "dovecot.cf": "mail_max_userip_connections = 60\n" } });
    expect(sh(`kubectl -n ${MAILSERVER.namespace} patch configmap ${MAILSERVER.configMap} --type=merge -p '${patch}'`).code).toBe(0);
    // Reloader writes its variable into the pod template; the Deployment controller and the node roll it.
    await eventually(
      "Reloader's variable",
      async () =>
        sh(
          `kubectl -n ${MAILSERVER.namespace} get deploy/${MAILSERVER.deployment} -o jsonpath='{.spec.template.spec.containers[0].env[*].name}'`,
        ).out.includes("STAKATER_MAILSERVER_CONFIG_CONFIGMAP") || undefined,
    );
    expect(sh(`kubectl -n ${MAILSERVER.namespace} rollout status deploy/${MAILSERVER.deployment} --timeout=300s`).code).toBe(0);
    process.stdout.write(`Reloader rollout of the mailserver: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    const after = await cluster.mailserver();
    expect(after.instanceDir).not.toBe(before.instanceDir);
    expect(inMailserver("cat /tmp/docker-mailserver/dovecot.cf").out).toBe("mail_max_userip_connections = 60\n");
    expect(await inbox(objects.mailboxes.admin, kept)).toHaveLength(1);
  });

  it("shows a docker-mailserver that panics at start as a crash-looping pod, and recovers when the config is fixed", async () => {
    const data = objects.configData;
    const accounts = data["postfix-accounts.cf"]!;
    // DMS's alias set-up greps postfix-accounts.cf for an alias target and panics when the first
    // hit has no hash: here a comment naming admin@ above its account line.
    const broken = { "postfix-accounts.cf": `# ${objects.mailboxes.admin.address} is the admin\n${accounts}` };
    expect(
      sh(`kubectl -n ${MAILSERVER.namespace} patch configmap ${MAILSERVER.configMap} --type=merge -p '${JSON.stringify({ data: broken })}'`)
        .code,
    ).toBe(0);
    const crashing = await eventually(
      "a restarted, not Ready mailserver pod",
      async () => {
        const pods = JSON.parse(sh(`kubectl -n ${MAILSERVER.namespace} get pods -l app=${MAILSERVER.deployment} -o json`).out)
          .items as any[];
        const status = pods.map((p) => p.status.containerStatuses?.[0]).find((c) => c && c.restartCount > 0 && !c.ready);
        return status;
      },
      180_000,
    );
    expect(crashing.state.waiting).toMatchObject({ reason: "CrashLoopBackOff", message: expect.stringContaining("misconfigured") });
    expect(sh(`kubectl -n ${MAILSERVER.namespace} rollout status deploy/${MAILSERVER.deployment} --timeout=5s`).code).not.toBe(0);
    expect(
      sh(
        `kubectl -n ${MAILSERVER.namespace} patch configmap ${MAILSERVER.configMap} --type=merge -p '${JSON.stringify({ data: { "postfix-accounts.cf": accounts } })}'`,
      ).code,
    ).toBe(0);
    expect(sh(`kubectl -n ${MAILSERVER.namespace} rollout status deploy/${MAILSERVER.deployment} --timeout=300s`).code).toBe(0);
    expect(inMailserver("true").code).toBe(0);
  });
});
