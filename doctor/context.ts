// Everything the checks read, each read once per run however many checks (and senders) use it:
// the Kubernetes objects, the pod's state (one exec), the mailbox passwords (Vault), one IMAP
// session per mailbox, and one list per paperless collection. Requests are counted per system.
import { isPaperlessApiError, type PaperlessApiError, PaperlessClient } from "../providers/paperless/client";
import { readKvSecret, vaultHttpSettings } from "../providers/vault/vaultClient";
import { apiStatus } from "../providers/kubernetes/kubeApi";
import type { ConfigMapObject } from "../providers/kubernetes/kubeClient";
import { sieveConfigMap, sieveNames } from "../core/sieveConfigMap";
import type { IngestConfig, Mailbox } from "../core/types";
import { imapSnapshot, type ImapSnapshot, type ImapTarget, isImapError } from "./imapSnapshot";
import { type Deployment, KubeReads, type Pod, selectorQuery } from "./kubeReads";
import { type PodState, readPodState } from "./podState";
import { fixable } from "./runner";
import type { DoctorStack } from "./stackSource";

/** paperless objects as the API returns them (docs/paperless-api.md): mail accounts, rules, processed mail, tasks. */
export interface WireAccount {
  id: number;
  name: string;
  imap_server: string;
  imap_port: number | null;
  imap_security: number;
  username: string;
  character_set: string;
  account_type: number;
  is_token: boolean;
}
export interface WireRule {
  id: number;
  name: string;
  account: number;
  enabled: boolean;
  order: number;
  owner: number | null;
  folder: string;
  filter_from: string | null;
  filter_to: string | null;
  filter_subject: string | null;
  filter_body: string | null;
  filter_attachment_filename_include: string | null;
  filter_attachment_filename_exclude: string | null;
  maximum_age: number;
  action: number;
  action_parameter: string | null;
  attachment_type: number;
  consumption_scope: number;
  assign_tags: number[];
  assign_owner_from_rule: boolean;
  assign_title_from: number;
}
export interface WireUser {
  id: number;
  username: string;
}
export interface WireTag {
  id: number;
  name: string;
}
export interface WireProcessedMail {
  id: number;
  rule: number;
  folder: string;
  uid: string;
  subject: string;
  received: string;
  processed: string;
  status: string;
  error: string | null;
}
export interface WireTask {
  id: number;
  task_type: string;
  trigger_source: string;
  status: string;
  date_created: string;
  date_done: string | null;
  input_data: Record<string, unknown> | null;
  result_data: { error_message?: string } | null;
}
export interface WireStatus {
  pngx_version?: string;
  database?: { status?: string; error?: string | null };
  tasks?: Record<string, string | null>;
}

/** paperless's own answer to a request, or why there is none: for checks that must tell "not allowed" from "broken". */
export type Answer<T> = { ok: true; value: T } | { ok: false; error: PaperlessApiError };

/** Counts every request it makes (the serverInfo probe included): the run reports requests per system. */
class CountingClient extends PaperlessClient {
  requests = 1;
  override request<T>(method: string, path: string, opts?: Parameters<PaperlessClient["request"]>[2]): Promise<T> {
    this.requests++;
    return super.request<T>(method, path, opts);
  }
}

/** Requests per system, summed over the contexts of one run. */
export function totalRequests(contexts: readonly DoctorContext[]): Record<string, number> {
  const total: Record<string, number> = {};
  for (const c of contexts) for (const [system, n] of Object.entries(c.requests())) total[system] = (total[system] ?? 0) + n;
  return total;
}

export interface Progress {
  (line: string): void;
}

export class DoctorContext {
  readonly config: IngestConfig;
  readonly paperless: CountingClient;
  private readonly kube: KubeReads;
  private readonly memo = new Map<string, Promise<unknown>>();
  private imapCommands = 0;
  private vaultRequests = 0;
  private execs = 0;

  constructor(
    readonly stack: DoctorStack,
    readonly since: Date,
    readonly progress: Progress,
    readonly now: Date = new Date(),
  ) {
    this.config = stack.config;
    this.paperless = new CountingClient(stack.config.paperless.url, stack.paperlessToken);
    this.kube = new KubeReads(stack.kube);
  }

  private once<T>(key: string, read: () => Promise<T>): Promise<T> {
    let pending = this.memo.get(key) as Promise<T> | undefined;
    if (!pending) {
      pending = read();
      this.memo.set(key, pending);
    }
    return pending;
  }

  /** Requests made so far, per system. */
  requests(): Record<string, number> {
    return {
      kubernetes: this.kube.requests,
      exec: this.execs,
      vault: this.vaultRequests,
      imap: this.imapCommands,
      paperless: this.paperless.requests,
    };
  }

  /** How long paperless may take to pick a mail up: two fetch periods. */
  get overdueMs(): number {
    return 2 * this.config.doctor.fetchPeriodMinutes * 60_000;
  }

  // ---- Kubernetes ------------------------------------------------------------------------

  private kubeFailure(e: unknown): Error {
    const ms = this.config.mailserver;
    const rights = `the identity needs get on the Deployment and ConfigMaps and list on pods in namespace ${ms.namespace} (README.md#doctor-rights)`;
    return apiStatus(e) === 403
      ? fixable(`the Kubernetes API refused a read: ${(e as Error).message}`, rights, { notChecked: true })
      : fixable(
          `the Kubernetes API: ${(e as Error).message}`,
          `check kubernetes:kubeconfig / kubernetes:context of the stack (or KUBECONFIG); ${rights}`,
        );
  }

  deployment(): Promise<Deployment | undefined> {
    const ms = this.config.mailserver;
    return this.once("deployment", () =>
      this.kube.deployment(ms.namespace, ms.deployment).catch((e) => {
        throw this.kubeFailure(e);
      }),
    );
  }

  pods(): Promise<Pod[]> {
    return this.once("pods", async () => {
      const dep = await this.deployment();
      if (!dep) return [];
      return this.kube.pods(this.config.mailserver.namespace, selectorQuery(dep.spec.selector)).catch((e) => {
        throw this.kubeFailure(e);
      });
    });
  }

  sharedConfigMap(): Promise<ConfigMapObject | undefined> {
    const ms = this.config.mailserver;
    return this.once("cm:shared", () =>
      this.kube.configMap(ms.namespace, ms.configMap).catch((e) => {
        throw this.kubeFailure(e);
      }),
    );
  }

  sieveConfigMap(mailbox: Mailbox): Promise<ConfigMapObject | undefined> {
    const ms = this.config.mailserver;
    const name = sieveNames(mailbox, ms).configMapName;
    return this.once(`cm:${name}`, () =>
      this.kube.configMap(ms.namespace, name).catch((e) => {
        throw this.kubeFailure(e);
      }),
    );
  }

  /** The sieve ConfigMap's name and key (core/sieveConfigMap.ts). */
  sieveObject(mailbox: Mailbox): { name: string; key: string } {
    const cm = sieveConfigMap(mailbox, this.config.mailserver, "");
    return { name: cm.metadata.name, key: Object.keys(cm.data)[0]! };
  }

  podState(): Promise<PodState> {
    return this.once("pod", async () => {
      const ms = this.config.mailserver;
      this.progress(`reading the mailserver pod (kubectl exec deploy/${ms.deployment} in ${ms.namespace})`);
      this.execs++;
      try {
        return await readPodState(this.stack.kube, ms, this.config.mailboxes);
      } catch (e) {
        throw fixable(
          (e as Error).message,
          `check that kubectl is on PATH and that the identity may create pods/exec in namespace ${ms.namespace}`,
        );
      }
    });
  }

  // ---- Vault and IMAP --------------------------------------------------------------------

  /** The mailbox's password, from the Vault secret the program wrote. */
  password(mailbox: Mailbox): Promise<string> {
    return this.once(`vault:${mailbox.address}`, async () => {
      const { mount, pathPrefix } = this.config.vault;
      const path = `${pathPrefix}/${mailbox.address}`;
      const v = this.stack.vault;
      this.vaultRequests++;
      const answer = await readKvSecret(
        { address: v.address, token: v.token, namespace: v.namespace, caCertFile: v.caCertFile, skipTlsVerify: v.skipTlsVerify },
        mount,
        path,
        vaultHttpSettings(),
      );
      const where = `Vault ${v.address} (${v.addressSource}), secret ${mount}/${path}`;
      switch (answer.kind) {
        case "ok": {
          const password = answer.data["password"];
          if (typeof password === "string" && password) {
            this.stack.secrets.push(password); // never printed, whatever a server echoes
            return password;
          }
          throw fixable(`${where} has no password field`, "run `pulumi up --refresh`: it writes the secret back");
        }
        case "missing":
          throw fixable(`${where} does not exist`, "run `pulumi up --refresh`: it writes the secret back");
        case "http":
          throw fixable(
            `${where}: HTTP ${answer.status}${answer.errors.length ? ` (${answer.errors.join("; ")})` : ""}`,
            `the token (${v.tokenSource}) needs read on ${mount}/data/${pathPrefix}/*`,
          );
        case "timeout":
          throw fixable(`${where}: ${answer.message}`, "check vault:address / VAULT_ADDR and that Vault is reachable from here");
        case "unreachable":
          throw fixable(
            `${where}: ${answer.code || answer.message}`,
            "check vault:address / VAULT_ADDR and that Vault is reachable from here",
          );
        case "caFile":
          throw fixable(`${where}: cannot read the CA file: ${answer.message}`, "fix vault:caCertFile / VAULT_CACERT");
      }
    });
  }

  /** Where the doctor logs in over IMAP: doctor.imap, else where paperless does. */
  imapEndpoint(): { host: string; port: number } {
    const ms = this.config.mailserver;
    return this.config.doctor.imap ?? { host: ms.imapHost, port: ms.imapPort };
  }

  /** How the doctor logs in to a mailbox, as paperless does: the address and its password in Vault. */
  async imapTarget(mailbox: Mailbox): Promise<ImapTarget> {
    const ms = this.config.mailserver;
    return {
      endpoint: this.imapEndpoint(),
      security: ms.imapSecurity,
      servername: ms.imapHost,
      user: mailbox.address,
      password: await this.password(mailbox),
    };
  }

  imap(mailbox: Mailbox): Promise<ImapSnapshot> {
    return this.once(`imap:${mailbox.address}`, async () => {
      const target = await this.imapTarget(mailbox);
      this.progress(`IMAP ${mailbox.address} at ${target.endpoint.host}:${target.endpoint.port}`);
      const junkSince = new Date(this.now.getTime() - Math.max(mailbox.maximumAge, 1) * 86_400_000);
      const snapshot = await imapSnapshot(target, junkSince).catch((e) => {
        throw fixable(
          `${(e as Error).message}`,
          isImapError(e) && e.authentication
            ? `the mailserver refuses the password in Vault: run \`pulumi up --refresh\` (it writes the account line from it) and see mailserver.account-live`
            : `check that the mailserver's IMAP is reachable from here (doctor.imap in the stack config when it differs from mailserver.imapHost:imapPort)`,
        );
      });
      this.imapCommands += snapshot.commands;
      return snapshot;
    });
  }

  // ---- paperless -------------------------------------------------------------------------

  private paperlessFailure(e: unknown, what: string): Error {
    if (!isPaperlessApiError(e)) return e as Error;
    const url = this.config.paperless.url;
    const fix =
      e.status === undefined
        ? `check paperless.url (${url}) and that paperless-ngx is running and reachable from here`
        : e.status === 401
          ? "the API token was rejected: set a valid one with `pulumi config set --secret paperlessToken <token>` (or PAPERLESS_API_TOKEN)"
          : e.status === 403
            ? "use the token the program deploys with (a paperless superuser), see README.md#doctor-rights"
            : "see paperless-ngx's log";
    return e.status === 403
      ? fixable(`the token's user may not read ${what} (${e.method} ${e.path} → 403)`, fix, { notChecked: true })
      : fixable(`paperless-ngx ${url}: ${e.message}`, fix);
  }

  private list<T>(collection: string, query = ""): Promise<T[]> {
    return this.once(`list:${collection}?${query}`, () =>
      this.paperless.listAll<T>(collection, query).catch((e) => {
        throw this.paperlessFailure(e, collection);
      }),
    );
  }

  /** A read whose refusal (403) or absence (404) a check reports as "not checked" rather than a failure. */
  answer<T>(key: string, read: () => Promise<T>): Promise<Answer<T>> {
    return this.once(`answer:${key}`, async (): Promise<Answer<T>> => {
      try {
        return { ok: true, value: await read() };
      } catch (e) {
        if (isPaperlessApiError(e) && (e.status === 403 || e.status === 404 || e.status === 406)) return { ok: false, error: e };
        throw this.paperlessFailure(e, key);
      }
    });
  }

  serverInfo() {
    return this.once("info", () =>
      this.paperless.serverInfo().catch((e) => {
        throw this.paperlessFailure(e, "/api/mail_accounts/");
      }),
    );
  }

  accounts(): Promise<WireAccount[]> {
    return this.list("/api/mail_accounts/");
  }
  rules(): Promise<WireRule[]> {
    return this.list("/api/mail_rules/");
  }
  users(): Promise<WireUser[]> {
    return this.list("/api/users/");
  }
  tags(): Promise<WireTag[]> {
    return this.list("/api/tags/");
  }

  /** The program's account of a mailbox (by name, globally unique in paperless). */
  async account(mailbox: Mailbox): Promise<WireAccount | undefined> {
    return (await this.accounts()).find((a) => a.name === mailbox.accountName);
  }

  /** Processed-mail rows of one status (2.19+): FAILED and PROCESSED_WO_CONSUMPTION are what leaves a mail in INBOX. */
  processedMail(status: "FAILED" | "PROCESSED_WO_CONSUMPTION"): Promise<Answer<WireProcessedMail[]>> {
    return this.answer(`processed:${status}`, () => this.paperless.listAll<WireProcessedMail>("/api/processed_mail/", `status=${status}`));
  }

  status(): Promise<Answer<WireStatus>> {
    return this.answer("status", () => this.paperless.request<WireStatus>("GET", "/api/status/"));
  }
}
