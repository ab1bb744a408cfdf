// The spine of the program: the validated configuration every other module reads.
// Only stack/config.ts produces these values; nothing downstream re-validates.

/** One person (address) whose mail to an ingest mailbox is filed in paperless. */
export interface Sender {
  /** Lower-cased email address; matched against the From header and used as the rule's filter_from. */
  readonly address: string;
  /** paperless-ngx username that owns the documents (resolved to an id at deploy time, never hard-coded). */
  readonly user: string;
  /** Human label; the paperless mail rule is named `forward: <label>`. */
  readonly label: string;
  /** Name of the paperless mail rule: `forward: <label>`. */
  readonly ruleName: string;
  /** paperless rule order (rules run ascending). */
  readonly order: number;
  /** Tags assigned to every document, the mailbox's ingest tag first. */
  readonly tags: readonly string[];
  /** Also require a DKIM or DMARC pass for the sender's domain in the receiving server's verdict header. */
  readonly requireAuthentication: boolean;
}

/** An ingest mailbox such as docs@example.com, with its own sender allowlist. */
export interface Mailbox {
  /** Lower-cased mailbox address. */
  readonly address: string;
  readonly localPart: string;
  readonly domain: string;
  /** Name of the paperless mail account that polls this mailbox (globally unique in paperless). */
  readonly accountName: string;
  /** Tag every document from this mailbox gets (`email-ingest`). */
  readonly tag: string;
  /** IMAP folder the rules read. */
  readonly inboxFolder: string;
  /** IMAP folder consumed mail is moved to. */
  readonly processedFolder: string;
  /** Rules ignore mail older than this many days (0 = no limit). */
  readonly maximumAge: number;
  /** Header holding the receiving server's DKIM/DMARC verdict. */
  readonly authResultsHeader: string;
  /** If set, a verdict counts only when the header names this authserv-id (the receiving server). */
  readonly trustedAuthservId?: string;
  readonly senders: readonly Sender[];
}

export type ImapSecurity = "none" | "ssl" | "starttls";

/** Where docker-mailserver runs and which of its objects the program edits. */
export interface MailserverSettings {
  readonly namespace: string;
  readonly deployment: string;
  readonly container: string;
  /** The shared ConfigMap holding postfix-accounts.cf / postfix-virtual.cf (owned by another stack). */
  readonly configMap: string;
  readonly accountsKey: string;
  readonly virtualKey: string;
  /** Directory in the container where docker-mailserver reads its config files. */
  readonly configDir: string;
  /** Root of the mail volume (`<mailRoot>/<domain>/<user>/home`). */
  readonly mailRoot: string;
  readonly imapHost: string;
  readonly imapPort: number;
  readonly imapSecurity: ImapSecurity;
}

/** Where paperless-ngx runs. The API token is a secret and is not part of this type. */
export interface PaperlessSettings {
  readonly url: string;
  /** Ask paperless (through its API) to fetch mail after the rules change, and wait for it. */
  readonly fetchAfterChange: boolean;
}

/** Where the mailbox passwords live in Vault (KV v2). */
export interface VaultSettings {
  readonly mount: string;
  /** Secret path prefix; the password of mailbox A is at `<mount>/<pathPrefix>/<A>`. */
  readonly pathPrefix: string;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** What `npm run doctor` needs beyond what the program deploys. */
export interface DoctorSettings {
  /** Where the doctor logs in over IMAP when that is not mailserver.imapHost:imapPort (which paperless uses, in the cluster). */
  readonly imap?: HostPort;
  /** paperless's mail fetch period (PAPERLESS_EMAIL_TASK_CRON), minutes: mail waiting longer than two is overdue. */
  readonly fetchPeriodMinutes: number;
}

/** `npm run doctor -- --canary`: a mail from a listed sender, sent over SMTP to every mailbox listing that sender. */
export interface CanarySettings {
  /** A listed sender without requireAuthentication (the canary cannot carry its DKIM signature). */
  readonly sender: string;
  /** The mailserver's SMTP (port 25) as reachable from where the doctor runs. */
  readonly smtp: HostPort;
}

export interface IngestConfig {
  readonly mailboxes: readonly Mailbox[];
  readonly mailserver: MailserverSettings;
  readonly paperless: PaperlessSettings;
  readonly vault: VaultSettings;
  readonly doctor: DoctorSettings;
  readonly canary?: CanarySettings;
}

/** The Pulumi project name: config keys are `paperless-mail-ingest:<key>`. */
export const PROJECT = "paperless-mail-ingest";
