// The desired paperless-ngx state of one ingest mailbox, in the API's own field names and enum
// values (docs/paperless-api.md#enums), with users, tags and the account named rather
// than numbered: ids differ between installations and are resolved at deploy time.
import type { ImapSecurity, Mailbox, MailserverSettings } from "./types";

/** paperless's enums, exact integer values (docs/paperless-api.md#enums). */
export const ImapSecurityCode: Record<ImapSecurity, number> = { none: 1, ssl: 2, starttls: 3 };
export const MailAction = { DELETE: 1, MOVE: 2, MARK_READ: 3, FLAG: 4, TAG: 5 } as const;
export const AttachmentProcessing = { ATTACHMENTS_ONLY: 1, EVERYTHING: 2 } as const;
export const ConsumptionScope = { ATTACHMENTS_ONLY: 1, EML_ONLY: 2, EVERYTHING: 3 } as const;
export const TitleSource = { FROM_SUBJECT: 1, FROM_FILENAME: 2, NONE: 3 } as const;
export const AccountType = { IMAP: 1 } as const;
export const CorrespondentSource = { FROM_NOTHING: 1, FROM_EMAIL: 2, FROM_NAME: 3, FROM_CUSTOM: 4 } as const;
export const PdfLayout = { DEFAULT: 0, TEXT_HTML: 1, HTML_TEXT: 2, HTML_ONLY: 3, TEXT_ONLY: 4 } as const;

/** The mail account (its password is a secret and travels separately). */
export interface MailAccountPlan {
  readonly name: string;
  readonly imap_server: string;
  readonly imap_port: number;
  readonly imap_security: number;
  readonly username: string;
  readonly character_set: string;
  readonly account_type: number;
  readonly is_token: boolean;
}

/**
 * One rule per sender: every writable field of paperless's mail rule serializer, so a
 * hand-made or hand-edited value of any of them shows as drift and is reset. `account`, `owner`,
 * `assign_tags`, `assign_correspondent` and `assign_document_type` are names here, ids on the wire;
 * "" stands for paperless's null (no filter, no correspondent, no document type).
 */
export interface MailRulePlan {
  readonly name: string;
  readonly account: string;
  readonly owner: string;
  readonly order: number;
  readonly enabled: boolean;
  readonly folder: string;
  readonly filter_from: string;
  readonly filter_to: string;
  readonly filter_subject: string;
  readonly filter_body: string;
  readonly filter_attachment_filename_include: string;
  readonly filter_attachment_filename_exclude: string;
  readonly maximum_age: number;
  readonly action: number;
  readonly action_parameter: string;
  readonly assign_title_from: number;
  readonly assign_tags: readonly string[];
  readonly assign_owner_from_rule: boolean;
  readonly assign_correspondent_from: number;
  readonly assign_correspondent: string;
  readonly assign_document_type: string;
  readonly attachment_type: number;
  readonly consumption_scope: number;
  readonly pdf_layout: number;
  /** 3.x only (docs/paperless-api.md#objects); the provider leaves it out for 2.x servers. */
  readonly stop_processing: boolean;
}

export interface PaperlessPlan {
  readonly account: MailAccountPlan;
  /** Every tag the rules assign, ensured by name. */
  readonly tags: readonly string[];
  readonly rules: readonly MailRulePlan[];
}

export function paperlessPlan(mailbox: Mailbox, mailserver: MailserverSettings): PaperlessPlan {
  const rules = mailbox.senders.map((s): MailRulePlan => ({
    name: s.ruleName,
    account: mailbox.accountName,
    owner: s.user,
    order: s.order,
    enabled: true,
    folder: mailbox.inboxFolder,
    filter_from: s.address,
    // Every other filter off: the sieve already admits only listed senders, and a rule must take
    // all of that sender's mail.
    filter_to: "",
    filter_subject: "",
    filter_body: "",
    filter_attachment_filename_include: "",
    filter_attachment_filename_exclude: "",
    maximum_age: mailbox.maximumAge,
    action: MailAction.MOVE,
    action_parameter: mailbox.processedFolder,
    assign_title_from: TitleSource.FROM_SUBJECT,
    assign_tags: s.tags,
    assign_owner_from_rule: true,
    assign_correspondent_from: CorrespondentSource.FROM_NOTHING,
    assign_correspondent: "",
    assign_document_type: "",
    attachment_type: AttachmentProcessing.ATTACHMENTS_ONLY,
    consumption_scope: ConsumptionScope.ATTACHMENTS_ONLY,
    pdf_layout: PdfLayout.DEFAULT,
    stop_processing: false,
  }));
  return {
    account: {
      name: mailbox.accountName,
      imap_server: mailserver.imapHost,
      imap_port: mailserver.imapPort,
      imap_security: ImapSecurityCode[mailserver.imapSecurity],
      username: mailbox.address,
      character_set: "UTF-8",
      account_type: AccountType.IMAP,
      is_token: false,
    },
    tags: [...new Set(rules.flatMap((r) => r.assign_tags))],
    rules,
  };
}
