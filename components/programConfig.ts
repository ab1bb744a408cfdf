// The Pulumi program's view of its stack config: the validated IngestConfig plus the secrets,
// which stay Pulumi secret outputs and never pass through parseConfig.
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, parseConfig } from "../core/config";
import { fromRuntime } from "../core/stackConfig";
import { PROJECT, type IngestConfig } from "../core/types";

export interface ProgramConfig {
  readonly config: IngestConfig;
  /** paperless-ngx API token (secret). */
  readonly paperlessToken: pulumi.Output<string>;
  /** Password set by the user for a mailbox address, if any (secret); otherwise one is generated. */
  mailboxPassword(address: string): pulumi.Output<string> | undefined;
}

export function readProgramConfig(): ProgramConfig {
  const all = pulumi.runtime.allConfig();
  const stack = fromRuntime(all);
  const parsed = parseConfig(stack.raw);
  const problems = [...stack.problems, ...(parsed.ok ? [] : parsed.problems)];
  const source = `stack ${pulumi.getStack()} (Pulumi.${pulumi.getStack()}.yaml)`;

  const cfg = new pulumi.Config(PROJECT);
  const envToken = process.env["PAPERLESS_API_TOKEN"];
  const hasToken = `${PROJECT}:paperlessToken` in all || !!envToken;
  if (!hasToken) {
    problems.push("paperlessToken: not set; run `pulumi config set --secret paperlessToken <token>` or export PAPERLESS_API_TOKEN");
  }
  // Only the keys are looked at here: the values stay inside secret outputs.
  const passwordKeys = `${PROJECT}:mailboxPasswords` in all
    ? Object.keys(JSON.parse(all[`${PROJECT}:mailboxPasswords`]!) as Record<string, unknown>).map((k) => k.toLowerCase())
    : [];
  if (parsed.ok) {
    const known = new Set(parsed.config.mailboxes.map((m) => m.address));
    for (const key of passwordKeys) {
      if (!known.has(key)) problems.push(`mailboxPasswords.${key}: is not an ingest mailbox of this stack`);
    }
  }
  if (problems.length || !parsed.ok) throw new ConfigError(problems, source);

  const passwords = passwordKeys.length
    ? cfg.requireSecretObject<Record<string, string>>("mailboxPasswords").apply((m) =>
        Object.fromEntries(Object.entries(m).map(([k, v]) => [k.toLowerCase(), v])))
    : undefined;
  return {
    config: parsed.config,
    // The stack's secret wins over the environment; either way the token is a secret output.
    paperlessToken: cfg.getSecret("paperlessToken") ?? pulumi.secret(envToken ?? ""),
    mailboxPassword: (address) =>
      passwords && passwordKeys.includes(address) ? pulumi.secret(passwords.apply((m) => m[address]!)) : undefined,
  };
}
