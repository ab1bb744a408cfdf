// `npm run doctor` against the stack the real Pulumi CLI deployed (index.ts) on the test cluster
// (kube-apiserver, Reloader, docker-mailserver pods), Vault and paperless-ngx 3.0.5. After the
// deploy every check passes; then one link at a time is broken the way it breaks in the field, the
// matching check must fail (or warn) with its hint while every other check still passes, and after
// the repair every check passes again. One cluster and one paperless (with its Celery worker and
// Redis, as in production) for the whole suite; a paperless-ngx 2.20.15 shows what 2.x lacks.
import { ImapFlow } from "imapflow";
import type { Cluster } from "../support/cluster/cluster";
import { ImapClient, imapQuote } from "../support/mailserver/imap";
import { forwardedMailWith } from "../support/mailserver/forwardedMail";
import { MAILSERVER } from "../support/cluster/productionObjects";
import { admin, type Admin, type Row } from "../support/paperless/admin";
import { startPaperless, type PaperlessServer } from "../support/paperless/server";
import type { ProgramStack } from "../support/programStack";
import { eventually, key, kubectlJson, prodStack } from "../stack/scenarios";
import { checks, type DoctorRun, expectedResults, problemText, results, runDoctor } from "./doctorRun";
import { CANARY, DOCS, type DoctorStack, growSenders, SIEVE_CM, SIEVE_KEY, startDoctorStack } from "./doctorStack";

jest.setTimeout(900_000);

let h: DoctorStack;
let cluster: Cluster;
let paperless: PaperlessServer;
let api: Admin;
/** A paperless-ngx 2.x beside it: what the doctor cannot check there. */
let paperless2: PaperlessServer;
let stack: ProgramStack;
const prod = prodStack();
/** Every healthy run without options: its time and requests, for the report at the end and the 50 senders' test. */
const healthy: DoctorRun[] = [];

const k = (...args: string[]) => h.kubectl(...args);
const up = (...args: string[]) => h.up(...args);
const settled = () => h.settled();
const doctor = (...args: string[]) => h.doctor(...args);
const vaultPassword = () => h.vaultPassword();

/** Every check passes (exit 0); with --fetch, after a fetch that succeeded. */
async function expectHealthy(...args: string[]): Promise<DoctorRun> {
  const run = await doctor(...args);
  if (args.includes("--fetch")) {
    expect(run.report!.fetch).toMatchObject({ result: "success" });
    expect(results(run.report!, "after fetch")).toEqual(expectedResults(run.report!, {}, "after fetch"));
  }
  expect(results(run.report!)).toEqual(expectedResults(run.report!, {}));
  expect(run.code).toBe(0);
  if (!args.length) healthy.push(run);
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

/** The Deployment's owner turns Reloader's search for it off or on (off: Reloader ignores this workload). */
async function reloaderSearch(on: boolean): Promise<void> {
  await k(
    "-n",
    MAILSERVER.namespace,
    "annotate",
    "deploy",
    MAILSERVER.deployment,
    "--field-manager",
    "Terraform",
    "--overwrite",
    `reloader.stakater.com/search=${on}`,
  );
}

async function sieveScript(): Promise<string> {
  return (await kubectlJson(cluster.kubectl, cluster.kubeconfig, "-n", MAILSERVER.namespace, "get", "configmap", SIEVE_CM)).data[SIEVE_KEY];
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

/** Appends a message to a folder of docs@ (INBOX) with the given arrival time, as if it had waited there since. */
async function waitingSince(message: string, arrived: Date, folder = "INBOX"): Promise<number> {
  const endpoint = cluster.service(MAILSERVER.namespace, MAILSERVER.service, 143);
  const client = new ImapFlow({
    host: endpoint.host,
    port: endpoint.port,
    secure: false,
    doSTARTTLS: false,
    logger: false,
    auth: { user: DOCS, pass: await vaultPassword() },
  });
  await client.connect();
  try {
    const appended = await client.append(folder, message, [], arrived);
    if (!appended || !appended.uid) throw new Error("APPEND gave no uid");
    return appended.uid;
  } finally {
    await client.logout();
  }
}

async function deleteFrom(uid: number, folder = "INBOX"): Promise<void> {
  const endpoint = cluster.service(MAILSERVER.namespace, MAILSERVER.service, 143);
  const client = new ImapFlow({
    host: endpoint.host,
    port: endpoint.port,
    secure: false,
    doSTARTTLS: false,
    logger: false,
    auth: { user: DOCS, pass: await vaultPassword() },
  });
  await client.connect();
  try {
    await client.mailboxOpen(folder);
    expect(await client.messageDelete(String(uid), { uid: true })).toBe(true);
  } finally {
    await client.logout();
  }
}

/** A forwarded mail to docs@, sent an hour ago, whose one file is the given MIME part (headers, then body). */
function mailWith(from: string, subject: string, part: string): string {
  return forwardedMailWith(from, DOCS, subject, part, { date: HOUR_AGO(), note: "Forwarded, see below." }).text;
}

const HOUR_AGO = () => new Date(Date.now() - 3_600_000);

/** What a canary could leave: documents (and the trash), processed-mail records, the mail in docs@'s folders. */
async function leftovers(): Promise<unknown> {
  const endpoint = cluster.service(MAILSERVER.namespace, MAILSERVER.service, 143);
  const client = new ImapFlow({
    host: endpoint.host,
    port: endpoint.port,
    secure: false,
    doSTARTTLS: false,
    logger: false,
    auth: { user: DOCS, pass: await vaultPassword() },
  });
  await client.connect();
  const mail: Record<string, string[]> = {};
  try {
    for (const folder of (await client.list()).map((f) => f.path)) {
      const box = await client.mailboxOpen(folder, { readOnly: true });
      mail[folder] = box.exists ? (await client.fetchAll("1:*", { envelope: true })).map((m) => m.envelope?.messageId ?? "") : [];
    }
  } finally {
    await client.logout();
  }
  return {
    documents: (await api.list<Row>("/api/documents/")).map((d) => d.id),
    trash: (await api.list<Row>("/api/trash/")).map((d) => d.id),
    processed: (await api.list<Row>("/api/processed_mail/")).map((r) => r.id),
    mail,
  };
}

beforeAll(async () => {
  const started = Date.now();
  [h, paperless2] = await Promise.all([
    startDoctorStack(`e2e-doctor-${Math.random().toString(36).slice(2, 8)}`),
    startPaperless("2.20.15", { users: ["root", "anca", "emo"] }),
  ]);
  ({ cluster, paperless, stack } = h);
  api = admin(paperless);
  console.log(`doctor suite: servers up and stack deployed in ${Math.round((Date.now() - started) / 1000)} s`);
});

afterAll(async () => {
  if (healthy.length) {
    const s = healthy.map((r) => r.ms / 1000).sort((a, b) => a - b);
    console.log(
      `doctor suite: ${healthy.length} healthy runs at ${h.mailboxes[0]!.senders.length} senders: ` +
        `${s[0]!.toFixed(1)}–${s[s.length - 1]!.toFixed(1)} s (median ${s[Math.floor(s.length / 2)]!.toFixed(1)} s); requests ${JSON.stringify(healthy[0]!.report!.requests)}`,
    );
  }
  await h?.stop();
  await paperless2?.stop();
});

describe("npm run doctor against the deployed stack", () => {
  test("after the deploy every check passes, exit 0, with progress on stderr; the text report has the same checks", async () => {
    const run = await expectHealthy();
    expect(run.stderr).toContain("doctor: reading the mailserver pod (kubectl exec deploy/mailserver in mailserver)\n");
    expect(run.stderr).toMatch(/^doctor: IMAP docs@viktorbarzin\.me at [\w.]+:\d+$/m);
    const text = await runDoctor(stack, []);
    expect(text.code).toBe(0);
    for (const id of Object.keys(results(run.report!))) expect(text.stdout).toMatch(new RegExp(`✔ ${id.replace(/\./g, "\\.")}\\s`));
    expect(text.stdout).toContain("all checks passed");
  });

  test("--list-checks, --check <id> (with what it needs), exit 2 when the doctor cannot run", async () => {
    const list = await runDoctor(stack, ["--list-checks", "--json"]);
    expect(list.code).toBe(0);
    const ids = (JSON.parse(list.stdout) as { id: string }[]).map((c) => c.id);
    expect(ids).toEqual(
      expect.arrayContaining(["stack.deployed", "mailserver.sieve-installed", "mailserver.sieve-compiles", "mailserver.account-live"]),
    );

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
    await k(
      "-n",
      MAILSERVER.namespace,
      "patch",
      "configmap",
      SIEVE_CM,
      "--type",
      "merge",
      "-p",
      JSON.stringify({ data: { [SIEVE_KEY]: broken } }),
    );
    try {
      await settled();
      const run = await expectOnly({ "mailserver.sieve-compiles": "error", "mailserver.sieve-installed": "error" });
      expect(problemText(run.report!, "mailserver.sieve-compiles")).toContain("fails open: every sender's mail is kept");
      expect(problemText(run.report!, "mailserver.sieve-installed")).toMatch(/edited outside Pulumi[\s\S]*pulumi up --refresh/);
    } finally {
      await up("--refresh");
      await settled();
    }
    await expectHealthy();
  });

  test("the sieve ConfigMap changes while the pod does not roll (Reloader not watching): sieve-installed fails, saying Reloader did not roll", async () => {
    const declared = await sieveScript();
    // The Deployment's owner turns Reloader's search off (Reloader then ignores this workload), then the sieve changes.
    await reloaderSearch(false);
    await k(
      "-n",
      MAILSERVER.namespace,
      "patch",
      "configmap",
      SIEVE_CM,
      "--type",
      "merge",
      "-p",
      JSON.stringify({ data: { [SIEVE_KEY]: `# reviewed by hand\n${declared}` } }),
    );
    try {
      const run = await expectOnly({ "mailserver.sieve-installed": "error", "mailserver.reloader": "error" });
      expect(problemText(run.report!, "mailserver.reloader")).toContain(
        'deploy/mailserver carries reloader.stakater.com/search: "false", not "true"',
      );
      const text = problemText(run.report!, "mailserver.sieve-installed");
      expect(text).toMatch(
        /the running pod's \/var\/mail\/viktorbarzin\.me\/docs\/home\/\.dovecot\.sieve \(sha256 \w+…\) is not ConfigMap mailserver-sieve-docs-at-viktorbarzin\.me's/,
      );
      expect(text).toMatch(/Reloader (has never rolled|last rolled) deploy\/mailserver/);
      expect(text).toContain("kubectl -n mailserver rollout restart deploy/mailserver");
    } finally {
      await reloaderSearch(true);
      await up("--refresh");
      await settled();
    }
    await expectHealthy();
  });

  test("the mailserver's own stack drops our self-alias from postfix-virtual.cf (its drift job), caught before the next restart: account-live fails, naming the alias and the pod's files", async () => {
    // Caught before the mailserver restarts (Reloader not rolling it yet): the pod still has the
    // alias, the ConfigMap it starts from next no longer does.
    await reloaderSearch(false);
    const shared = (
      await kubectlJson(cluster.kubectl, cluster.kubeconfig, "-n", MAILSERVER.namespace, "get", "configmap", MAILSERVER.configMap)
    ).data;
    const virtual = (shared["postfix-virtual.cf"] as string)
      .split("\n")
      .filter((l) => !l.includes("paperless-mail-ingest docs at viktorbarzin.me") && l !== `${DOCS} ${DOCS}`)
      .join("\n");
    await k(
      "-n",
      MAILSERVER.namespace,
      "patch",
      "configmap",
      MAILSERVER.configMap,
      "--field-manager",
      "Terraform",
      "--type",
      "merge",
      "-p",
      JSON.stringify({ data: { "postfix-virtual.cf": virtual } }),
    );
    try {
      const run = await expectOnly({ "mailserver.account-live": "error", "mailserver.reloader": "error" });
      const text = problemText(run.report!, "mailserver.account-live");
      expect(text).toContain(`lacks the self-alias \`${DOCS} ${DOCS}\`: the domain's catch-all takes the mail`);
      expect(text).toMatch(
        /the running pod started from other postfix-virtual\.cf lines than ConfigMap mailserver\/mailserver\.config holds now/,
      );
    } finally {
      // search back first: the program's patch owns that annotation's "true". Restoring the lines
      // gives the ConfigMap the data Reloader last rolled for, so it does not roll again.
      await reloaderSearch(true);
      await up("--refresh");
      await settled();
    }
    await expectHealthy();
  });

  test("a hand edit of the mailserver Deployment mounts a ConfigMap not created yet: the new pod stays ContainerCreating, deployment-ready fails naming the pod, the replicas and the rollback", async () => {
    // The DKIM keys mounted before their ConfigMap exists. Strategy Recreate: the old pod is stopped
    // first, the new one waits for its volume (as the kubelet: FailedMount, ContainerCreating).
    await k(
      "-n",
      MAILSERVER.namespace,
      "patch",
      "deploy",
      MAILSERVER.deployment,
      "--type",
      "json",
      "-p",
      JSON.stringify([
        { op: "add", path: "/spec/template/spec/volumes/-", value: { name: "dkim", configMap: { name: "mailserver-dkim" } } },
        {
          op: "add",
          path: "/spec/template/spec/containers/0/volumeMounts/-",
          value: { name: "dkim", mountPath: "/tmp/docker-mailserver/opendkim", readOnly: true },
        },
      ]),
    );
    try {
      const stuck = await eventually("the old pod gone and the new one waiting for its volume", async () => {
        const pods = (
          await kubectlJson(cluster.kubectl, cluster.kubeconfig, "-n", MAILSERVER.namespace, "get", "pods", "-l", "app=mailserver")
        ).items as { metadata: { name: string }; status?: { containerStatuses?: { state?: { waiting?: { reason?: string } } }[] } }[];
        const waiting = pods.length === 1 && pods[0]!.status?.containerStatuses?.[0]?.state?.waiting?.reason === "ContainerCreating";
        return waiting ? pods[0]!.metadata.name : undefined;
      });
      // IMAP is down with the mailserver: the login and paperless's own test fail; what needs them is not checked.
      const run = await expectOnly({
        "mailserver.deployment-ready": "error",
        "mailserver.sieve-installed": "warning",
        "mailserver.sieve-compiles": "warning",
        "mailserver.account-live": "warning",
        "mailbox.login": "error",
        "mailbox.folders": "warning",
        "paperless.account-test": "error",
        "paperless.backlog": "warning",
      });
      const text = problemText(run.report!, "mailserver.deployment-ready");
      expect(text).toContain(
        "deploy/mailserver in namespace mailserver: 1 of 1 replica(s) updated, 0 Ready, 1 pod(s) in all; no pod is Ready, so nothing serves SMTP or IMAP (strategy Recreate stopped the old pod first)",
      );
      expect(text).toMatch(
        new RegExp(
          `pod ${stuck} of deploy/mailserver in namespace mailserver is not Ready: container docker-mailserver waiting: ContainerCreating, for \\d+ (s|min)\n`,
        ),
      );
      expect(text).toContain(`\`kubectl -n mailserver describe pod ${stuck}\`: its events say what the container waits for`);
      expect(text).toContain("`kubectl -n mailserver rollout undo deploy/mailserver`");
      expect(problemText(run.report!, "mailserver.sieve-installed")).toContain("not checked: mailserver.deployment-ready failed");
      // The command the fix names does say why.
      expect(await k("-n", MAILSERVER.namespace, "describe", "pod", stuck)).toContain(
        'MountVolume.SetUp failed for volume "dkim" : configmap "mailserver-dkim" not found',
      );
    } finally {
      await k("-n", MAILSERVER.namespace, "rollout", "undo", `deploy/${MAILSERVER.deployment}`);
      await settled();
    }
    await expectHealthy();
  });

  test("the processed folder is deleted in a mail client: mailbox.folders fails, saying how to create it", async () => {
    await asMailClient(`DELETE ${imapQuote("Processed")}`);
    try {
      const run = await expectOnly({ "mailbox.folders": "error" });
      expect(problemText(run.report!, "mailbox.folders")).toMatch(
        /folder Processed does not exist: paperless's MOVE fails[\s\S]*doveadm mailbox create -s -u docs@viktorbarzin\.me Processed/,
      );
      // The text report: the same verdicts, each problem and its fix under its check.
      const text = await runDoctor(stack, []);
      expect(text.code).toBe(1);
      for (const [id, result] of Object.entries(results(run.report!))) {
        expect(text.stdout).toMatch(
          new RegExp(`^${{ success: "✔", warning: "‼", error: "×" }[result]} ${id.replace(/\./g, "\\.")}\\s`, "m"),
        );
      }
      for (const p of checks(run.report!).get("mailbox.folders")!.problems)
        expect(text.stdout).toContain(`    × ${p.error}\n      fix: ${p.hint}\n`);
      expect(text.stdout).toContain("× 1 failed, 0 warning(s)");
    } finally {
      await asMailClient(`CREATE ${imapQuote("Processed")}`, `SUBSCRIBE ${imapQuote("Processed")}`);
    }
    await expectHealthy();
  });

  test("the mailbox password in Vault is rewritten by hand: the IMAP login and the account line fail, naming Vault", async () => {
    const password = await vaultPassword();
    await cluster.vault.api("POST", `secret/data/paperless-mail-ingest/${DOCS}`, {
      data: { username: DOCS, password: "rewritten-by-hand" },
    });
    try {
      // The folders and the backlog need the login: not checked.
      const run = await expectOnly({
        "mailbox.login": "error",
        "mailbox.folders": "warning",
        "paperless.backlog": "warning",
        "mailserver.account-live": "error",
      });
      expect(problemText(run.report!, "mailbox.login")).toMatch(/login refused/);
      expect(problemText(run.report!, "mailserver.account-live")).toContain("does not hash the password in Vault");
      expect(problemText(run.report!, "mailbox.folders")).toContain("not checked: mailbox.login failed");
      expect(run.stdout + run.stderr).not.toContain("rewritten-by-hand");
    } finally {
      await up("--refresh");
    }
    expect(await vaultPassword()).toBe(password);
    await expectHealthy();
  });

  test("paperless's stored password of the account is changed by hand: account-test fails, though the IMAP login with Vault's password works", async () => {
    const account = (await api.list<Row>("/api/mail_accounts/")).find((a) => a.name === DOCS)!;
    await api.request("PATCH", `/api/mail_accounts/${account.id}/`, { password: "typed-wrong-in-the-ui" });
    try {
      const run = await expectOnly({ "paperless.account-test": "error" });
      expect(problemText(run.report!, "paperless.account-test")).toMatch(
        /paperless cannot log in to .* as docs@viktorbarzin\.me with the password it stored[\s\S]*vault kv get -field=password secret\/paperless-mail-ingest\/docs@viktorbarzin\.me/,
      );
    } finally {
      await api.request("PATCH", `/api/mail_accounts/${account.id}/`, { password: await vaultPassword() });
    }
    await expectHealthy();
  });

  test("the mail account's port is edited by hand in the paperless UI: paperless.account fails naming the field; what needs the account is not checked", async () => {
    const account = (await api.list<Row & { imap_port: number }>("/api/mail_accounts/")).find((a) => a.name === DOCS)!;
    await api.request("PATCH", `/api/mail_accounts/${account.id}/`, { imap_port: account.imap_port + 1 });
    try {
      const run = await expectOnly({ "paperless.account": "error", "paperless.account-test": "warning", "paperless.rules": "warning" });
      expect(problemText(run.report!, "paperless.account")).toContain(
        `mail account "${DOCS}" (#${account.id}) differs from the stack: imap_port ${account.imap_port + 1} (declared ${account.imap_port})`,
      );
      expect(problemText(run.report!, "paperless.rules")).toContain("not checked: paperless.account failed");
    } finally {
      await api.request("PATCH", `/api/mail_accounts/${account.id}/`, { imap_port: account.imap_port });
    }
    await expectHealthy();
  });

  test("the stack's paperless token is revoked: paperless.api fails saying the token was rejected; every paperless check after it is not checked, never passed", async () => {
    await stack.setSecret(key("paperlessToken"), "0123456789abcdef0123456789abcdef01234567");
    try {
      const run = await expectOnly({
        "paperless.api": "error",
        "paperless.account": "warning",
        "paperless.account-test": "warning",
        "paperless.rules": "warning",
        "paperless.status": "warning",
        "paperless.mail-fetch": "warning",
        "paperless.consume-failures": "warning",
        "paperless.backlog": "warning",
      });
      expect(problemText(run.report!, "paperless.api")).toContain(
        "the API token was rejected: set a valid one with `pulumi config set --secret paperlessToken <token>`",
      );
      expect(problemText(run.report!, "paperless.account-test")).toContain("not checked: paperless.account was not checked");
    } finally {
      await stack.setSecret(key("paperlessToken"), paperless.token);
    }
    await expectHealthy();
  });

  test("a rule disabled by hand and a hand-made rule put before ours: paperless.rules fails, naming both", async () => {
    const account = (await api.list<Row>("/api/mail_accounts/")).find((a) => a.name === DOCS)!;
    const anca = (await api.list<Row & { filter_from: string }>("/api/mail_rules/")).find(
      (r) => r.filter_from === "ancaelena98@gmail.com",
    )!;
    await api.request("PATCH", `/api/mail_rules/${anca.id}/`, { enabled: false });
    const foreign = await api.post("/api/mail_rules/", {
      name: "hand-made: gmail",
      account: account.id,
      order: 1,
      filter_from: "gmail.com",
      action: 3,
      maximum_age: 30,
    });
    try {
      const run = await expectOnly({ "paperless.rules": "error" });
      const text = problemText(run.report!, "paperless.rules");
      expect(text).toContain(`rule "forward: Anca" (#${anca.id}) for ancaelena98@gmail.com on account ${DOCS} is disabled`);
      expect(text).toMatch(
        new RegExp(
          `rule "hand-made: gmail" \\(#${foreign.id}, order 1\\) on account ${DOCS} is not the stack's and runs before "forward: Viktor \\(gmail\\)"`,
        ),
      );
    } finally {
      await api.request("DELETE", `/api/mail_rules/${foreign.id}/`);
      await up("--refresh");
    }
    await expectHealthy();
  });

  test("mail waiting in INBOX from a stranger (the sieve did not run): the backlog fails, naming the closest listed address", async () => {
    const stranger = await waitingSince(
      mailWith(
        "vbarzin@gmial.com",
        "Invoice",
        'Content-Type: text/plain; name="invoice.txt"\r\nContent-Disposition: attachment; filename="invoice.txt"\r\n\r\npay now',
      ),
      HOUR_AGO(),
    );
    try {
      const run = await expectOnly({ "paperless.backlog": "error" });
      expect(problemText(run.report!, "paperless.backlog")).toMatch(
        /"Invoice" from vbarzin@gmial\.com \(INBOX uid \d+, waiting 60 min\): its From is not on the list \(closest listed: vbarzin@gmail\.com\): the sieve did not run/,
      );
    } finally {
      await deleteFrom(stranger);
    }
    await expectHealthy();
  });

  test("--fetch: the checks, a fetch, then the paperless checks and the backlog again: a listed sender's mail no fetch took fails before, and after the fetch warns that its only file was inline", async () => {
    const inline = await waitingSince(
      mailWith(
        "ancaelena98@gmail.com",
        "Scan",
        'Content-Type: application/pdf; name="scan.pdf"\r\nContent-Disposition: inline; filename="scan.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK',
      ),
      HOUR_AGO(),
    );
    try {
      const run = await expectOnly({ "paperless.backlog": "error" }, "--fetch");
      expect(problemText(run.report!, "paperless.backlog")).toMatch(
        /"Scan" from ancaelena98@gmail\.com \(INBOX uid \d+, waiting 60 min\): no rule took it: no fetch ran since it arrived/,
      );
      expect(run.report!.fetch).toMatchObject({ result: "success", steps: [{ what: `fetch ${DOCS}`, result: "success" }] });
      const again = results(run.report!, "after fetch");
      expect(Object.keys(again)).toEqual(Object.keys(results(run.report!)).filter((id) => id.startsWith("paperless.")));
      expect(again).toEqual(expectedResults(run.report!, { "paperless.backlog": "warning" }, "after fetch"));
      expect(problemText(run.report!, "paperless.backlog", "after fetch")).toContain(
        'paperless took it but consumed nothing: application/pdf "scan.pdf" (inline) is not an attachment: the rule takes attachments only',
      );
      expect(run.stderr).toMatch(/^doctor: asking paperless to fetch docs@viktorbarzin\.me \(deadline 300 s\)$/m);
      expect(run.stderr).toMatch(/^doctor: fetch: docs@viktorbarzin\.me: fetch requested$/m);
      expect(run.stderr).toMatch(/^doctor: after the fetch: paperless\.api, .*paperless\.backlog again$/m);
    } finally {
      await deleteFrom(inline);
    }
    await expectHealthy();
  });

  test("the spam filter put a listed sender's mail in Junk: mailbox.folders warns, naming it (exit 0)", async () => {
    const spam = await waitingSince(
      mailWith(
        "vbarzin@gmail.com",
        "Bank statement",
        'Content-Type: application/pdf; name="statement.pdf"\r\nContent-Disposition: attachment; filename="statement.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK',
      ),
      HOUR_AGO(),
      "Junk",
    );
    try {
      const run = await expectOnly({ "mailbox.folders": "warning" });
      expect(problemText(run.report!, "mailbox.folders")).toMatch(
        /^docs@viktorbarzin\.me: 1 mail\(s\) from listed senders in Junk, where paperless never looks: "Bank statement" from vbarzin@gmail\.com \([^)]+\)\nmove them to INBOX/,
      );
    } finally {
      await deleteFrom(spam, "Junk");
    }
    await expectHealthy();
  });

  test("an attachment paperless cannot read: after --fetch consume-failures and the backlog fail, quoting paperless's error; once dismissed in paperless it is not reported again", async () => {
    const pdf = Buffer.from(`%PDF-1.4\n${"not a pdf body ".repeat(40)}\n%%EOF\n`).toString("base64");
    const broken = await waitingSince(
      mailWith(
        "ancaelena98@gmail.com",
        "Broken scan",
        `Content-Type: application/pdf; name="broken.pdf"\r\nContent-Disposition: attachment; filename="broken.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n${pdf}`,
      ),
      HOUR_AGO(),
    );
    try {
      const run = await expectOnly({ "paperless.backlog": "error" }, "--fetch");
      expect(results(run.report!, "after fetch")).toEqual(
        expectedResults(run.report!, { "paperless.consume-failures": "error", "paperless.backlog": "error" }, "after fetch"),
      );
      expect(problemText(run.report!, "paperless.consume-failures", "after fetch")).toMatch(
        /^consuming "broken\.pdf" from mail \(rule #\d+\) failed \d+ s ago \(task #\d+\): \S/,
      );
      expect(problemText(run.report!, "paperless.backlog", "after fetch")).toMatch(
        /"Broken scan" from ancaelena98@gmail\.com \(INBOX uid \d+, waiting 60 min\): paperless failed on it: \S/,
      );
    } finally {
      await deleteFrom(broken);
      // What the user does once handled: dismiss the task in paperless's task list, delete its processed-mail record.
      const tasks = await api.request<{ id: number }[] | { results: { id: number }[] }>(
        "GET",
        "/api/tasks/?task_type=consume_file&status=failure&acknowledged=false&page_size=100",
      );
      const ids = (Array.isArray(tasks) ? tasks : tasks.results).map((t) => t.id);
      if (ids.length) await api.request("POST", "/api/tasks/acknowledge/", { tasks: ids });
      const failed = (await api.list<Row & { status: string }>("/api/processed_mail/"))
        .filter((r) => r.status === "FAILED")
        .map((r) => r.id);
      if (failed.length) await api.request("POST", "/api/processed_mail/bulk_delete/", { mail_ids: failed });
    }
    await expectHealthy();
  });

  test("a sender added to the configuration but not deployed: stack.deployed fails naming it, and paperless.rules finds no rule for it", async () => {
    h.mailboxes[0]!.senders.push({ address: "new.sender@example.org", user: "emo", label: "New sender" });
    try {
      const run = await expectOnly({ "stack.deployed": "error", "paperless.rules": "error" });
      expect(problemText(run.report!, "stack.deployed")).toContain(`${DOCS}: sender(s) new.sender@example.org configured but not deployed`);
      expect(problemText(run.report!, "paperless.rules")).toContain(`no rule on account ${DOCS} takes mail from new.sender@example.org`);
    } finally {
      growSenders(h.mailboxes, 5);
    }
    await expectHealthy();
  });

  test("--canary: a mail from canary.sender becomes a document owned by its user with its tags, each hop timed; nothing is left behind", async () => {
    const before = await leftovers();
    const run = await doctor("--canary");
    expect(results(run.report!)).toEqual(expectedResults(run.report!, {}));
    const canary = run.report!.canary!;
    expect(canary.result).toBe("success");
    expect(canary.steps.map((s) => [s.what.replace(/[0-9a-f]{12}|#\d+/g, "…"), s.result])).toEqual([
      [
        `${DOCS}: sent over SMTP to ${cluster.service(MAILSERVER.namespace, MAILSERVER.service, 25).host}:${cluster.service(MAILSERVER.namespace, MAILSERVER.service, 25).port} from ${CANARY}`,
        "success",
      ],
      [`${DOCS}: kept by the sieve, in INBOX`, "success"],
      [`${DOCS}: fetched by paperless`, "success"],
      [`${DOCS}: filed as document …, owned by root, tagged email-ingest`, "success"],
      [`${DOCS}: moved to Processed`, "success"],
    ]);
    for (const s of canary.steps) expect(s.seconds).toBeGreaterThanOrEqual(0);
    expect(canary.cleanup).toEqual([
      expect.stringMatching(/^deleted document #\d+ \(and emptied it from the trash\)$/),
      expect.stringMatching(/^deleted processed-mail record #\d+$/),
      `deleted the canary mail from ${DOCS} Processed`,
    ]);
    expect(run.code).toBe(0);
    // Each hop as it happens, on stderr.
    for (const step of canary.steps) expect(run.stderr).toContain(`doctor: canary ${step.what}`);
    expect(await leftovers()).toEqual(before);
  });

  test("paperless's scheduler is dead while fetches asked for through the API still run (the doctor's --fetch, the stack's fetch after a change): mail-fetch fails, counting only scheduled fetches (3.x)", async () => {
    type Task = { id: number; trigger_source: string; date_created: string };
    const newest = async (query: string) => {
      const page = await api.request<Task[] | { results: Task[] }>("GET", `/api/tasks/?task_type=mail_fetch&page_size=1${query}`);
      return (Array.isArray(page) ? page : page.results)[0]!;
    };
    // The scheduler's last fetch (the suite's start) more than two periods of 1 min back, then a fresh fetch through the API.
    const scheduled = await newest("&trigger_source=scheduled");
    const wait = Date.parse(scheduled.date_created) + 150_000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await h.fetch();
    const manual = await newest("");
    expect(manual).toMatchObject({ trigger_source: "manual" });
    expect(manual.id).not.toBe(scheduled.id);
    h.overrides = { [key("doctor")]: { fetchPeriodMinutes: 1 } };
    try {
      const run = await expectOnly({ "paperless.mail-fetch": "error" });
      expect(problemText(run.report!, "paperless.mail-fetch")).toMatch(
        new RegExp(
          `^the last scheduled mail fetch was \\d+ (s|min) ago \\(task #${scheduled.id}, success\\): more than two fetch periods \\(1 min each\\); ` +
            `a newer fetch, task #${manual.id} \\(manual, success, \\d+ s ago\\), was asked for by hand or through the API, which does not show that the scheduler runs\n` +
            "the scheduler \\(celery beat\\) or the worker of paperless-ngx is down",
        ),
      );
    } finally {
      h.overrides = {};
    }
    await expectHealthy();
  });

  test("the worker is down, so no fetch runs for longer than two periods (3.x): mail-fetch fails and status warns", async () => {
    h.overrides = { [key("doctor")]: { fetchPeriodMinutes: 0.02 } };
    await paperless.worker!.stop();
    try {
      const account = (await api.list<Row>("/api/mail_accounts/")).find((a) => a.name === DOCS)!;
      await api.request("POST", `/api/mail_accounts/${account.id}/process/`); // queued; no worker takes it
      await new Promise((r) => setTimeout(r, 3_000)); // more than two periods of 1.2 s
      const run = await expectOnly({ "paperless.mail-fetch": "error", "paperless.status": "warning" });
      expect(problemText(run.report!, "paperless.mail-fetch")).toMatch(
        /the last scheduled mail fetch was \d+ (s|min) ago \(task #\d+, success\): more than two fetch periods \(0\.02 min each\); a newer fetch, task #\d+ \(manual, pending, \d+ s ago\)[\s\S]*scheduler \(celery beat\) or the worker/,
      );
      expect(problemText(run.report!, "paperless.status")).toContain("celery worker: WARNING (No celery workers responded to ping");

      // A canary that fails half-way (no worker fetches it) cleans up all the same, and says so.
      const before = await leftovers();
      const canary = await doctor("--check", "paperless.api", "--canary", "--deadline", "10s");
      expect(canary.report!.canary!.result).toBe("error");
      expect(canary.report!.canary!.steps.map((x) => x.result)).toEqual(["success", "success", "error"]);
      expect(canary.report!.canary!.steps[2]!.detail).toMatch(/pending/);
      expect(canary.report!.canary!.cleanup).toEqual([`deleted the canary mail from ${DOCS} INBOX`]);
      expect(canary.code).toBe(1);
      expect(await leftovers()).toEqual(before);
    } finally {
      await paperless.worker!.start();
      h.overrides = {};
    }
    // The checks run before the fetch: the restarted worker answers paperless's ping first.
    await eventually(
      "the worker to answer paperless's status ping",
      async () =>
        (await api.request<{ tasks: Record<string, string> }>("GET", "/api/status/")).tasks["celery_status"] === "OK" ? true : undefined,
      60_000,
    );
    await expectHealthy("--fetch");
  });

  test("paperless-ngx 2.20.15 records no task: mail-fetch and consume-failures say not checked, never passed", async () => {
    h.overrides = { [key("paperless")]: { ...(prod[key("paperless")] as object), url: paperless2.url } };
    await stack.setSecret(key("paperlessToken"), paperless2.token);
    try {
      for (const id of ["paperless.mail-fetch", "paperless.consume-failures"]) {
        const run = await doctor("--check", id);
        expect(results(run.report!)).toEqual({ "paperless.api": "success", [id]: "warning" });
        expect(problemText(run.report!, id)).toMatch(
          /^not checked: paperless-ngx 2\.20\.15 records no (task for a mail fetch|source of a consumption)/,
        );
        expect(run.code).toBe(0);
      }
      // --fetch: requested, its end not confirmed (2.x records no task): a warning, never a success.
      const account = await admin(paperless2).post("/api/mail_accounts/", {
        name: DOCS,
        imap_server: "127.0.0.1",
        imap_port: 1,
        imap_security: 1,
        username: DOCS,
        password: "unused",
      });
      try {
        const run = await doctor("--check", "paperless.api", "--fetch");
        expect(run.report!.fetch).toMatchObject({
          result: "warning",
          steps: [
            {
              what: `fetch ${DOCS}`,
              result: "warning",
              detail:
                "fetch requested; paperless-ngx 2.20.15 records no task for a mail fetch (3.0 and later do), so its end is not confirmed",
            },
          ],
        });
        expect(results(run.report!, "after fetch")).toEqual({ "paperless.api": "success" });
        expect(run.code).toBe(0);
      } finally {
        await admin(paperless2).request("DELETE", `/api/mail_accounts/${account.id}/`);
      }
    } finally {
      h.overrides = {};
      await stack.setSecret(key("paperlessToken"), paperless.token);
    }
  });

  test("50 senders: the same number of requests per system as 5 (one list per collection, one exec, one IMAP session per mailbox)", async () => {
    const five = healthy[healthy.length - 1]!.report!.requests;
    growSenders(h.mailboxes, 50);
    try {
      await up();
      await settled();
      const run = await expectHealthy();
      healthy.pop(); // the report at the end is of 5 senders
      console.log(
        `doctor suite: a healthy run at 50 senders: ${(run.ms / 1000).toFixed(1)} s; requests ${JSON.stringify(run.report!.requests)}`,
      );
      expect(run.report!.requests).toEqual(five);
    } finally {
      growSenders(h.mailboxes, 5);
    }
  });
});
