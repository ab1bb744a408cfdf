// Everything the checks read, each read once per run however many checks (and senders) use it:
// the Kubernetes objects, the pod's state (one exec), the mailbox passwords (Vault), one IMAP
// session per mailbox. Requests are counted per system.
import { readKvSecret } from "../providers/vault/vaultClient";
import type { ConfigMapObject } from "../providers/kubernetes/kubeClient";
import { sieveConfigMap, sieveMount } from "../core/sieveMount";
import type { IngestConfig, Mailbox } from "../core/types";
import { imapSnapshot, type ImapSnapshot, type ImapTarget } from "./imapSnapshot";
import { type Deployment, KubeReads, type Pod, selectorQuery } from "./kubeReads";
import { type PodState, readPodState } from "./podState";
import { fixable } from "./runner";
import type { DoctorStack } from "./stackSource";

export interface Progress {
  (line: string): void;
}

export class DoctorContext {
  readonly config: IngestConfig;
  private readonly kube: KubeReads;
  private readonly memo = new Map<string, Promise<unknown>>();
  private imapCommands = 0;
  private vaultRequests = 0;
  private execs = 0;

  constructor(readonly stack: DoctorStack, readonly since: Date, readonly progress: Progress, readonly now: Date = new Date()) {
    this.config = stack.config;
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
    return { kubernetes: this.kube.requests, exec: this.execs, vault: this.vaultRequests, imap: this.imapCommands };
  }

  // ---- Kubernetes ------------------------------------------------------------------------

  private kubeFailure(e: unknown): Error {
    const ms = this.config.mailserver;
    return fixable(`the Kubernetes API: ${(e as Error).message}`,
      `check kubernetes:kubeconfig / kubernetes:context of the stack (or KUBECONFIG) and that the identity may get Deployments, ConfigMaps and list pods in namespace ${ms.namespace}`);
  }

  deployment(): Promise<Deployment | undefined> {
    const ms = this.config.mailserver;
    return this.once("deployment", () => this.kube.deployment(ms.namespace, ms.deployment).catch((e) => { throw this.kubeFailure(e); }));
  }

  pods(): Promise<Pod[]> {
    return this.once("pods", async () => {
      const dep = await this.deployment();
      if (!dep) return [];
      return this.kube.pods(this.config.mailserver.namespace, selectorQuery(dep.spec.selector)).catch((e) => { throw this.kubeFailure(e); });
    });
  }

  sharedConfigMap(): Promise<ConfigMapObject | undefined> {
    const ms = this.config.mailserver;
    return this.once("cm:shared", () => this.kube.configMap(ms.namespace, ms.configMap).catch((e) => { throw this.kubeFailure(e); }));
  }

  sieveConfigMap(mailbox: Mailbox): Promise<ConfigMapObject | undefined> {
    const ms = this.config.mailserver;
    const name = sieveMount(mailbox, ms).configMapName;
    return this.once(`cm:${name}`, () => this.kube.configMap(ms.namespace, name).catch((e) => { throw this.kubeFailure(e); }));
  }

  /** The sieve ConfigMap's name and key (core/sieveMount.ts). */
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
        throw fixable((e as Error).message, `check that kubectl is on PATH and that the identity may create pods/exec in namespace ${ms.namespace}`);
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
      const answer = await readKvSecret({ address: v.address, token: v.token, namespace: v.namespace, caCertFile: v.caCertFile, skipTlsVerify: v.skipTlsVerify },
        mount, path, 30_000);
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
        case "missing": throw fixable(`${where} does not exist`, "run `pulumi up --refresh`: it writes the secret back");
        case "http": throw fixable(`${where}: HTTP ${answer.status}${answer.errors.length ? ` (${answer.errors.join("; ")})` : ""}`,
          `the token (${v.tokenSource}) needs read on ${mount}/data/${pathPrefix}/*`);
        case "timeout": throw fixable(`${where}: no answer within ${answer.ms / 1000} s`, "check vault:address / VAULT_ADDR and that Vault is reachable from here");
        case "unreachable": throw fixable(`${where}: ${answer.code || answer.message}`, "check vault:address / VAULT_ADDR and that Vault is reachable from here");
        case "caFile": throw fixable(`${where}: cannot read the CA file: ${answer.message}`, "fix vault:caCertFile / VAULT_CACERT");
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
    return { endpoint: this.imapEndpoint(), security: ms.imapSecurity, servername: ms.imapHost, user: mailbox.address, password: await this.password(mailbox) };
  }

  imap(mailbox: Mailbox): Promise<ImapSnapshot> {
    return this.once(`imap:${mailbox.address}`, async () => {
      const target = await this.imapTarget(mailbox);
      this.progress(`IMAP ${mailbox.address} at ${target.endpoint.host}:${target.endpoint.port}`);
      const junkSince = new Date(this.now.getTime() - Math.max(mailbox.maximumAge, 1) * 86_400_000);
      const snapshot = await imapSnapshot(target, junkSince).catch((e) => {
        throw fixable(`${(e as Error).message}`, (e as { authentication?: boolean }).authentication
          ? `the mailserver refuses the password in Vault: run \`pulumi up --refresh\` (it writes the account line from it) and see mailserver.account-live`
          : `check that the mailserver's IMAP is reachable from here (doctor.imap in the stack config when it differs from mailserver.imapHost:imapPort)`);
      });
      this.imapCommands += snapshot.commands;
      return snapshot;
    });
  }
}
