// One IMAP session per ingest mailbox, as paperless opens it (the mailbox address and its password
// from Vault), with imapflow: the login, the folder list, every message waiting in INBOX (envelope,
// arrival time, MIME structure) and the recent messages in the spam folder. A fixed number of
// commands per mailbox, whatever the number of senders: matching is done here, not by SEARCH.
import { ImapFlow, type MessageStructureObject } from "imapflow";
import { type CodedError, codedError, hasCode } from "../core/codedError";
import type { HostPort, ImapSecurity } from "../core/types";

/** A file part of a message, as paperless's attachment handling sees it. */
export interface MessagePart {
  readonly type: string;
  /** `attachment`, `inline` or "" (none given). */
  readonly disposition: string;
  readonly filename: string;
}

export interface WaitingMessage {
  readonly uid: number;
  /** Lower-cased address of the first From; "" when it has none. */
  readonly from: string;
  readonly subject: string;
  readonly arrived: Date;
  /** Every non-multipart part but the first text body. */
  readonly parts: readonly MessagePart[];
}

export interface ImapSnapshot {
  readonly folders: readonly string[];
  readonly uidValidity: string;
  readonly inbox: readonly WaitingMessage[];
  /** The spam folder (special-use \Junk, else one named Junk or Spam) and its recent messages; undefined when there is none. */
  readonly junk?: { readonly folder: string; readonly messages: readonly WaitingMessage[] };
  /** IMAP commands sent, for the run's request count. */
  readonly commands: number;
}

export interface ImapTarget {
  readonly endpoint: HostPort;
  readonly security: ImapSecurity;
  /** The name the server's certificate carries (the in-cluster name when the doctor connects elsewhere). */
  readonly servername: string;
  readonly user: string;
  readonly password: string;
}

const IMAP_ERROR = "IMAP_ERROR";

/** An IMAP failure, told apart: the login was refused, or the server did not answer. */
export type ImapError = CodedError<typeof IMAP_ERROR, { authentication: boolean }>;

export const isImapError = (e: unknown): e is ImapError => hasCode(e, IMAP_ERROR);

function parts(node: MessageStructureObject | undefined): MessagePart[] {
  if (!node) return [];
  if (node.childNodes?.length) return node.childNodes.flatMap(parts);
  const filename = node.dispositionParameters?.["filename"] ?? node.parameters?.["name"] ?? "";
  return [{ type: node.type.toLowerCase(), disposition: (node.disposition ?? "").toLowerCase(), filename }];
}

function waiting(m: {
  uid: number;
  envelope?: { from?: { address?: string }[]; subject?: string };
  internalDate?: Date | string;
  bodyStructure?: MessageStructureObject;
}): WaitingMessage {
  const all = parts(m.bodyStructure);
  // The first text part without a filename is the mail's own body, never an attachment.
  const body = all.findIndex((p) => p.type.startsWith("text/") && !p.filename && p.disposition !== "attachment");
  return {
    uid: m.uid,
    from: (m.envelope?.from?.[0]?.address ?? "").toLowerCase(),
    subject: m.envelope?.subject ?? "",
    arrived: new Date(m.internalDate ?? 0),
    parts: all.filter((_, i) => i !== body),
  };
}

/** A logged-in imapflow session (the caller logs out); a refused login or a dead server is an ImapError. */
export async function connectImap(target: ImapTarget, timeoutMs = 30_000): Promise<ImapFlow> {
  const client = new ImapFlow({
    host: target.endpoint.host,
    port: target.endpoint.port,
    secure: target.security === "ssl",
    doSTARTTLS: target.security === "starttls" ? true : target.security === "none" ? false : undefined,
    servername: target.servername,
    auth: { user: target.user, pass: target.password },
    logger: false,
    disableAutoIdle: true,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  });
  // A dropped connection is reported through the command that was running; no unhandled event.
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (e) {
    const err = e as { authenticationFailed?: boolean; responseText?: string; code?: string; message?: string };
    const authentication = err.authenticationFailed === true;
    const why = authentication
      ? `login refused${err.responseText ? ` (${err.responseText})` : ""}`
      : `${err.code ?? ""} ${err.message ?? String(e)}`.trim();
    throw codedError(IMAP_ERROR, `IMAP ${target.endpoint.host}:${target.endpoint.port} as ${target.user}: ${why}`, { authentication });
  }
  return client;
}

export async function imapSnapshot(target: ImapTarget, junkSince: Date, timeoutMs = 30_000): Promise<ImapSnapshot> {
  const client = await connectImap(target, timeoutMs);
  let commands = 1;
  try {
    commands++;
    const listed = await client.list();
    const folders = listed.map((f) => f.path);
    const junk = listed.find((f) => f.specialUse === "\\Junk") ?? listed.find((f) => /^(junk|spam)$/i.test(f.name));
    const query = { uid: true, envelope: true, internalDate: true, bodyStructure: true } as const;
    commands++;
    const inbox = await client.mailboxOpen("INBOX", { readOnly: true });
    commands++;
    const inboxMessages = inbox.exists ? (await client.fetchAll("1:*", query)).map(waiting) : [];
    let junkMessages: WaitingMessage[] | undefined;
    if (junk) {
      commands += 2;
      await client.mailboxOpen(junk.path, { readOnly: true });
      const recent = await client.search({ since: junkSince }, { uid: true });
      if (recent && recent.length) {
        commands++;
        junkMessages = (await client.fetchAll(recent, query, { uid: true })).map(waiting);
      } else {
        junkMessages = [];
      }
    }
    return {
      folders,
      uidValidity: String(inbox.uidValidity),
      inbox: inboxMessages,
      ...(junk ? { junk: { folder: junk.path, messages: junkMessages ?? [] } } : {}),
      commands,
    };
  } finally {
    await client.logout().catch(() => client.close());
  }
}
