// The Pulumi program's view of its stack config: the validated IngestConfig plus the secrets,
// which stay Pulumi secret outputs and never pass through parseConfig.
import * as pulumi from "@pulumi/pulumi";
import { configError } from "./config";
import { isConfigSecret } from "./engineConfig";
import { fromRuntime, validateStack } from "./stackConfig";
import { PROJECT, type IngestConfig } from "../core/types";
import { TOKEN_CONFIG_KEY, TOKEN_ENV } from "../core/paperlessToken";

export interface ProgramConfig {
  readonly config: IngestConfig;
  /** Password set by the user for a mailbox address, if any (secret); otherwise one is generated. */
  mailboxPassword(address: string): pulumi.Output<string> | undefined;
}

const PASSWORD_HINT = "set each with `pulumi config set --secret --path 'mailboxPasswords[\"<mailbox>\"]' <password>`";

/**
 * The mailbox addresses of the decrypted `mailboxPasswords` map. Only keys and shapes are looked
 * at, and no message quotes a value: it is a password (JSON.parse's own error would quote it).
 */
function mailboxPasswordKeys(text: string | undefined, problems: string[]): string[] {
  if (text === undefined) return [];
  let map: unknown;
  try {
    map = JSON.parse(text);
  } catch {
    map = undefined;
  }
  if (map === null || typeof map !== "object" || Array.isArray(map)) {
    problems.push(`mailboxPasswords: must be a map of mailbox address -> password; ${PASSWORD_HINT}`);
    return [];
  }
  for (const [key, value] of Object.entries(map)) {
    if (typeof value !== "string" || value === "") problems.push(`mailboxPasswords.${key}: must be a non-empty string; ${PASSWORD_HINT}`);
  }
  return Object.keys(map).map((k) => k.toLowerCase());
}

export function readProgramConfig(): ProgramConfig {
  const all = pulumi.runtime.allConfig();
  const stack = fromRuntime(all, isConfigSecret, process.env);
  const { config, problems } = validateStack(stack);
  const source = `stack ${pulumi.getStack()} (Pulumi.${pulumi.getStack()}.yaml)`;
  for (const warning of stack.warnings) void pulumi.log.warn(warning);

  const cfg = new pulumi.Config(PROJECT);
  // Only its presence is checked here: the paperless providers read it at call time
  // (providers/paperless/provider.ts credentials), so it never becomes a resource input.
  if (!(TOKEN_CONFIG_KEY in all) && !process.env[TOKEN_ENV]) {
    problems.push(`paperlessToken: not set; run \`pulumi config set --secret paperlessToken <token>\` or export ${TOKEN_ENV}`);
  }
  const passwordKeys = mailboxPasswordKeys(all[`${PROJECT}:mailboxPasswords`], problems);
  if (config) {
    const known = new Set(config.mailboxes.map((m) => m.address));
    for (const key of passwordKeys) {
      if (!known.has(key)) problems.push(`mailboxPasswords.${key}: is not an ingest mailbox of this stack`);
    }
  }
  // A RunError is printed as its message alone: the problems once, without a stack trace.
  if (problems.length || !config) throw new pulumi.RunError(configError(problems, source).message);

  const passwords = passwordKeys.length
    ? cfg
        .requireSecretObject<Record<string, string>>("mailboxPasswords")
        .apply((m) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k.toLowerCase(), v])))
    : undefined;
  return {
    config,
    mailboxPassword: (address) =>
      passwords && passwordKeys.includes(address) ? pulumi.secret(passwords.apply((m) => m[address]!)) : undefined,
  };
}
