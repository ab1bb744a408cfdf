// Everything the stack would deploy that can be made without a cluster or credentials, as
// relative file path -> content. The offline render writes these; the components deploy the same
// values (same core functions). Not here: the account lines, which hash the Vault-held passwords.
import { stringify } from "yaml";
import { selfAliasLine } from "./aliasLine";
import { writeOwnedLines } from "./ownedLines";
import {
  AccountType,
  AttachmentProcessing,
  ConsumptionScope,
  ImapSecurityCode,
  MailAction,
  paperlessPlan,
  TitleSource,
} from "./paperlessPlan";
import { renderSieve, sieveFileName } from "./sieve";
import { deploymentPatch } from "./deploymentPatch";
import { sieveConfigMap } from "./sieveConfigMap";
import { kubernetesRole } from "./kubernetesRights";
import type { IngestConfig, MailserverSettings } from "./types";
import { vaultPolicy } from "./vaultPolicy";

export const PLAN_FILE = "paperless-plan.json";
/** Manifests as `kubectl apply -f` takes them; multi-line text (the sieve) as a literal block, never folded. */
const manifest = (object: unknown): string => stringify(object, { blockQuote: "literal", lineWidth: 0 });
export const MAILSERVER_DIR = "mailserver";
/** The file names under MAILSERVER_DIR (core/objectNames.ts checks that each fits a file system). */
export const aliasBlockFile = (mailserver: MailserverSettings): string => `${mailserver.configMap}.${mailserver.virtualKey}.block`;
export const deploymentPatchFile = (mailserver: MailserverSettings): string => `${mailserver.deployment}.deployment-patch.yaml`;
export const configMapFile = (configMapName: string): string => `${configMapName}.configmap.yaml`;

/** The enum tables of the plan's integer fields (paperless's own values), to name each value beside it. */
const ENUM_FIELDS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  imap_security: ImapSecurityCode,
  account_type: AccountType,
  action: MailAction,
  assign_title_from: TitleSource,
  attachment_type: AttachmentProcessing,
  consumption_scope: ConsumptionScope,
};

/** `"action": 2` gets `"action_name": "move"` right after it, so a person can read the plan. */
function withEnumNames(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withEnumNames);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).flatMap(([key, v]) => {
      const table = ENUM_FIELDS[key];
      if (!table || typeof v !== "number") return [[key, withEnumNames(v)]];
      const name = Object.entries(table).find(([, n]) => n === v)?.[0];
      if (name === undefined) throw new Error(`${key} = ${v} has no name in the enum table`);
      return [
        [key, v],
        [`${key}_name`, name.toLowerCase()],
      ];
    }),
  );
}

export function renderArtifacts(config: IngestConfig): Map<string, string> {
  const files = new Map<string, string>();
  for (const mailbox of config.mailboxes) files.set(sieveFileName(mailbox.address), renderSieve(mailbox));
  const plan = {
    paperless: config.paperless.url,
    mailboxes: config.mailboxes.map((mailbox) => ({ mailbox: mailbox.address, ...paperlessPlan(mailbox, config.mailserver) })),
  };
  files.set(PLAN_FILE, JSON.stringify(withEnumNames(plan), null, 2) + "\n");

  const mailserver = config.mailserver;
  // The blocks the program appends to the shared key, one per mailbox, exactly as written there.
  const aliases = config.mailboxes.reduce((text, m) => writeOwnedLines(text, m.address, [selfAliasLine(m.address)]), "");
  files.set(`${MAILSERVER_DIR}/${aliasBlockFile(mailserver)}`, aliases);
  files.set(`${MAILSERVER_DIR}/${deploymentPatchFile(mailserver)}`, manifest(deploymentPatch(config.mailboxes, mailserver)));
  for (const mailbox of config.mailboxes) {
    const configMap = sieveConfigMap(mailbox, mailserver, renderSieve(mailbox));
    files.set(`${MAILSERVER_DIR}/${configMapFile(configMap.metadata.name)}`, manifest(configMap));
  }
  // The policy the deploying Vault token needs, for this stack's mount and prefix.
  files.set("vault-policy.hcl", vaultPolicy(config.vault));
  // The Role the deploying Kubernetes identity needs, for this stack's mailserver and mailboxes.
  files.set("kubernetes-role.yaml", kubernetesRole(config));
  return files;
}
