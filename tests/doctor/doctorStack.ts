// The stack `npm run doctor` runs against in tests/doctor and in the bench's doctor step: index.ts
// deployed by the real Pulumi CLI on the test cluster (kube-apiserver, Reloader, docker-mailserver
// pods), Vault and paperless-ngx 3.0.5 with its Celery worker and Redis, as in production; the
// doctor runs as the identity README.md#doctor-rights documents (a ServiceAccount bound to exactly
// the doctor's Kubernetes rights, a Vault token that may only read the mailbox secrets).
import { stringify } from "yaml";
import { byNamespace, kubernetesRules, rightsFor } from "../../core/kubernetesRights";
import { readStackFile } from "../../stack/stackConfig";
import { vaultPolicy } from "../../core/vaultPolicy";
import { type Page, PaperlessClient } from "../../providers/paperless/client";
import { fetchAndWait } from "../../providers/paperless/mailFetch";
import { startCluster, type Cluster } from "../support/cluster/cluster";
import { MAILSERVER } from "../support/cluster/productionObjects";
import { startPaperless, type PaperlessServer } from "../support/paperless/server";
import { programStack, type ProgramStack } from "../support/programStack";
import { eventually, key, kubectl, kubectlJson, type MailboxEntry, prodStack, type StackConfig } from "../stack/scenarios";
import { type DoctorRun, runDoctor } from "./doctorRun";

export const DOCS = "docs@viktorbarzin.me";
export const SIEVE_CM = "mailserver-sieve-docs-at-viktorbarzin.me";
export const SIEVE_KEY = "docs-at-viktorbarzin.me.dovecot.sieve";
/** A listed sender without requireAuthentication, owned by root. */
export const CANARY = "me@viktorbarzin.me";
const USERS = ["root", "anca", "emo"];

export interface DoctorStack {
  readonly cluster: Cluster;
  readonly paperless: PaperlessServer;
  readonly stack: ProgramStack;
  /** The stack's mailboxes (production's); a test may grow a sender list, then `up()`. */
  readonly mailboxes: MailboxEntry[];
  /** Stack config a test sets for a while (the fetch period, another paperless); {} restores it. */
  overrides: StackConfig;
  /** The stack config: production's, pointed at the test servers, with `overrides`. */
  config(extra?: StackConfig): StackConfig;
  /** `pulumi up` with the deploying identity; throws with the CLI's output when it fails. */
  up(...args: string[]): Promise<void>;
  /** Until the mailserver serves what its ConfigMaps hold (a finished rollout, one pod, its files the ConfigMaps'). */
  settled(): Promise<void>;
  /** `npm run doctor -- --json <args>` as the doctor's own identity; throws when it printed no report. */
  doctor(...args: string[]): Promise<DoctorRun>;
  /** One fetch of docs@ through paperless's API (a manual task), waited for: what the doctor's --fetch and the stack's fetch after a change do. */
  fetch(): Promise<void>;
  /** One fetch by paperless's scheduler (a scheduled task, every account), waited for: what celery beat does every period. */
  scheduledFetch(): Promise<void>;
  /** kubectl as the cluster's admin. */
  kubectl(...args: string[]): Promise<string>;
  /** docs@'s password, from Vault. */
  vaultPassword(): Promise<string>;
  stop(): Promise<void>;
}

/** Starts the servers, deploys production's sender list (its first mailbox's senders grown to `senders` when given) and binds the doctor's identity. */
export async function startDoctorStack(name: string, opts: { senders?: number } = {}): Promise<DoctorStack> {
  const prod = prodStack();
  const mailboxes = structuredClone(prod[key("mailboxes")]) as MailboxEntry[];
  const [cluster, paperless] = await Promise.all([startCluster(), startPaperless("3.0.5", { users: USERS, worker: true, redis: true })]);
  let stack: ProgramStack | undefined;
  const stop = async () => {
    await stack?.dispose();
    await paperless.stop();
    await cluster.stop();
  };
  try {
    await cluster.installProductionObjects();
    const vault = async (method: string, path: string, body?: unknown) => {
      const answer = await cluster.vault.api(method, path, body);
      if (answer.status >= 300) throw new Error(`Vault ${method} ${path}: HTTP ${answer.status}`);
      return answer;
    };
    await vault("PUT", "sys/policies/acl/paperless-mail-ingest", {
      policy: vaultPolicy({ mount: "secret", pathPrefix: "paperless-mail-ingest" }),
    });
    const deployToken = (await vault("POST", "auth/token/create", { policies: ["paperless-mail-ingest"], ttl: "2h" })).json.auth
      .client_token as string;
    await vault("PUT", "sys/policies/acl/paperless-mail-ingest-read", {
      policy: 'path "secret/data/paperless-mail-ingest/*" { capabilities = ["read"] }',
    });
    // The deploying token through the environment, so the doctor's own one can take its place.
    stack = await programStack(name, { path: [cluster.binDir], env: { VAULT_TOKEN: deployToken } });
    const s = stack;
    const k = (...args: string[]) => kubectl(cluster.kubectl, cluster.kubeconfig, ...args);
    const harness: DoctorStack = {
      cluster,
      paperless,
      stack: s,
      mailboxes,
      overrides: {},
      config(extra = harness.overrides) {
        const imap = cluster.service(MAILSERVER.namespace, MAILSERVER.service, 143);
        const smtp = cluster.service(MAILSERVER.namespace, MAILSERVER.service, 25);
        return {
          ...prod,
          [key("mailboxes")]: mailboxes,
          [key("mailserver")]: { ...(prod[key("mailserver")] as object), imapHost: imap.host, imapPort: imap.port, imapSecurity: "none" },
          [key("paperless")]: { ...(prod[key("paperless")] as object), url: paperless.url },
          [key("canary")]: { sender: CANARY, smtp: `${smtp.host}:${smtp.port}` },
          "kubernetes:kubeconfig": cluster.kubeconfig,
          "kubernetes:context": cluster.context,
          "vault:address": cluster.vault.addr,
          // No scheduler fetches in the test paperless: the suite's own fetches are minutes apart.
          // Mail it appends an hour back is still overdue (two periods: 50 min).
          [key("doctor")]: { fetchPeriodMinutes: 25 },
          ...extra,
        };
      },
      async up(...args) {
        s.setConfig(harness.config());
        const op = await s.up(...args);
        if (!op.ok) throw new Error(`pulumi up failed:\n${op.stdout.slice(-6000)}\n${op.stderr.slice(-3000)}`);
      },
      async settled() {
        await eventually(
          "the mailserver to serve its ConfigMaps",
          async () => {
            const get = (...a: string[]) => kubectlJson(cluster.kubectl, cluster.kubeconfig, "-n", MAILSERVER.namespace, "get", ...a);
            await k("-n", MAILSERVER.namespace, "rollout", "status", `deploy/${MAILSERVER.deployment}`, "--timeout=300s");
            const [pods, sieve, shared] = await Promise.all([
              get("pods", "-l", "app=mailserver"),
              get("configmap", SIEVE_CM),
              get("configmap", MAILSERVER.configMap),
            ]);
            if (pods.items.length !== 1) return undefined;
            const server = await cluster.mailserver();
            const cat = async (path: string) => (await server.exec(`cat ${path}`)).stdout;
            const same =
              (await cat("/var/mail/viktorbarzin.me/docs/home/.dovecot.sieve")) === sieve.data[SIEVE_KEY] &&
              (await cat("/tmp/docker-mailserver/postfix-accounts.cf")) === shared.data["postfix-accounts.cf"] &&
              (await cat("/tmp/docker-mailserver/postfix-virtual.cf")) === shared.data["postfix-virtual.cf"];
            return same ? true : undefined;
          },
          300_000,
        );
      },
      async doctor(...args) {
        s.setConfig(harness.config({ ...harness.overrides, "kubernetes:kubeconfig": identity.kubeconfig }));
        const run = await runDoctor(s, ["--json", ...args], { VAULT_TOKEN: identity.vaultToken });
        if (!run.report) throw new Error(`the doctor printed no report (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
        return run;
      },
      async fetch() {
        const client = new PaperlessClient(paperless.url, paperless.token);
        const accounts = (await client.listAll<{ id: number; name: string }>("/api/mail_accounts/")).filter((a) => a.name === DOCS);
        const [result] = await fetchAndWait(client, accounts, { deadlineMs: 180_000 });
        if (!result?.confirmed) throw new Error(`the fetch of ${DOCS} did not finish: ${result?.detail ?? "no such mail account"}`);
      },
      async scheduledFetch() {
        const id = await paperless.schedulerTick("Check all e-mail accounts");
        const client = new PaperlessClient(paperless.url, paperless.token);
        const task = await eventually(
          `the scheduled mail fetch ${id} to finish`,
          async () =>
            (
              await client.request<Page<{ task_id: string; status: string; result_data: unknown }>>(
                "GET",
                "/api/tasks/?task_type=mail_fetch&trigger_source=scheduled&page_size=5",
              )
            ).results.find((t) => t.task_id === id && ["success", "failure"].includes(t.status)),
          180_000,
        );
        if (task.status !== "success") throw new Error(`the scheduled mail fetch ${id} failed: ${JSON.stringify(task.result_data)}`);
      },
      kubectl: k,
      async vaultPassword() {
        return (await cluster.vault.api("GET", `secret/data/paperless-mail-ingest/${DOCS}`)).json.data.data.password;
      },
      stop,
    };
    if (opts.senders !== undefined) growSenders(mailboxes, opts.senders);
    s.setConfig(harness.config());
    await s.setSecret(key("paperlessToken"), paperless.token);
    await harness.up();
    await harness.settled();
    const identity = {
      kubeconfig: await cluster.serviceAccount("doctor"),
      vaultToken: (await vault("POST", "auth/token/create", { policies: ["paperless-mail-ingest-read"], ttl: "2h" })).json.auth
        .client_token as string,
    };
    await cluster.bindRoles(doctorRole(s), "doctor");
    // The deploy does not fetch (fetchAfterChange is off in production's config), and the test
    // paperless runs no scheduler: the scheduled fetch it would have made by now.
    await harness.scheduledFetch();
    return harness;
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}

/** Production's senders of the first mailbox, then generated ones up to `n` in all (owned by anca). */
export function growSenders(mailboxes: MailboxEntry[], n: number): void {
  const senders = mailboxes[0]!.senders;
  for (let i = senders.length; i < n; i++) senders.push({ address: `sender${i}@bench${i}.example`, user: "anca", label: `bench ${i}` });
  senders.splice(n);
}

/** A Role with exactly the Kubernetes rights core/kubernetesRights.ts lists for the doctor, one rule per right. */
function doctorRole(stack: ProgramStack): string {
  const rights = rightsFor(kubernetesRules(readStackFile(stack.stackFile).config), "doctor");
  return [...byNamespace(rights)]
    .map(([namespace, list]) =>
      stringify({
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: "paperless-mail-ingest-doctor", namespace },
        rules: list.map((r) => ({
          apiGroups: [r.apiGroup],
          resources: [r.resource],
          ...(r.name ? { resourceNames: [r.name] } : {}),
          verbs: [r.verb],
        })),
      }),
    )
    .join("---\n");
}
