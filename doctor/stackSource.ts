// The stack the doctor looks at, read as the program reads it: its configuration and outputs
// through the Pulumi Automation API (the `pulumi` CLI on this project directory, with the user's
// backend and secrets provider), validated by the program's own parseConfig, and the credentials
// from the same keys and environment variables the program and its providers take them from.
// Nothing here is configured twice. A stack that cannot be read is a SetupError: exit 2.
import { join } from "node:path";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { type CodedError, codedError, hasCode } from "../core/codedError";
import type { KubeTarget } from "../core/kubeTarget";
import { kubeTargetFrom } from "../stack/kubernetesAccess";
import { fromRuntime, validateStack } from "../stack/stackConfig";
import { type IngestConfig, PROJECT } from "../core/types";
import { type VaultAccess, vaultAccessFrom } from "../stack/vaultAccess";
import { TOKEN_CONFIG_KEY, TOKEN_ENV } from "../core/paperlessToken";
import { redact } from "../providers/redact";

export const PROJECT_DIR = join(__dirname, "..");

/** What a stack's last `pulumi up` exported per mailbox (index.ts `mailboxes`). */
export interface MailboxOutputs {
  readonly senders?: Record<string, string>;
  readonly ruleIds?: Record<string, number>;
  readonly sieveSha256?: string;
  readonly vaultPath?: string;
}

export interface DoctorStack {
  readonly name: string;
  readonly config: IngestConfig;
  /** Per mailbox address; undefined when the stack was never deployed (no outputs). */
  readonly outputs: Readonly<Record<string, MailboxOutputs>> | undefined;
  readonly paperlessToken: string;
  readonly vault: VaultAccess;
  readonly kube: KubeTarget;
  /** Every secret this run holds: redacted from anything printed. */
  readonly secrets: string[];
  /** What the program would warn about at preview (vault:skipTlsVerify). */
  readonly warnings: readonly string[];
}

const SETUP_ERROR = "SETUP_ERROR";

/** The doctor itself could not run (bad stack, missing credentials): exit 2. */
export type SetupError = CodedError<typeof SETUP_ERROR>;

export function setupError(message: string): SetupError {
  return codedError(SETUP_ERROR, message, {});
}

export const isSetupError = (e: unknown): e is SetupError => hasCode(e, SETUP_ERROR);

/** The first line of a failed pulumi command that says why (its stderr), without the command's noise. */
function cliReason(e: unknown, secrets: readonly string[]): string {
  const err = e as { stderr?: string; message?: string };
  const text = (typeof err.stderr === "string" && err.stderr.trim()) || err.message || String(e);
  const line =
    text
      .split("\n")
      .map((l) => l.trim())
      .find((l) => /^error:/i.test(l)) ??
    text.split("\n").find((l) => l.trim()) ??
    text;
  return redact(line.trim(), secrets);
}

export async function readStack(requested: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<DoctorStack> {
  let ws: LocalWorkspace;
  try {
    ws = await LocalWorkspace.create({ workDir: PROJECT_DIR });
  } catch (e) {
    throw setupError(
      `cannot run the Pulumi CLI on ${PROJECT_DIR}: ${cliReason(e, [])}; install it (README.md#prerequisites) and put it on PATH`,
    );
  }
  let name = requested;
  if (!name) {
    const current = await ws.stack().catch((e) => {
      throw setupError(`cannot list the stacks: ${cliReason(e, [])}; run \`pulumi login\``);
    });
    if (!current) throw setupError("no stack is selected: pass --stack <name> or run `pulumi stack select <name>`");
    name = current.name;
  }
  const [config, outputs] = await Promise.all([
    ws.getAllConfig(name).catch((e) => {
      throw setupError(
        `stack ${name}: cannot read its configuration: ${cliReason(e, [])}` +
          " (a passphrase stack needs PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE)",
      );
    }),
    ws.stackOutputs(name).catch((e) => {
      throw setupError(`stack ${name}: cannot read its outputs: ${cliReason(e, [])}`);
    }),
  ]);

  const all = Object.fromEntries(Object.entries(config).map(([k, v]) => [k, v.value]));
  const secrets = Object.values(config)
    .filter((v) => v.secret)
    .map((v) => v.value);
  const source = `stack ${name} (Pulumi.${name}.yaml)`;
  const read = fromRuntime(all, (key) => config[key]?.secret === true, env);
  const { config: ingest, problems } = validateStack(read);
  const token = all[TOKEN_CONFIG_KEY] || env[TOKEN_ENV] || "";
  if (!token)
    problems.push(`${PROJECT}:paperlessToken: not set; run \`pulumi config set --secret paperlessToken <token>\` or export ${TOKEN_ENV}`);
  const vault = vaultAccessFrom(all, env);
  if (!vault.address) problems.push("vault:address: not set, nor VAULT_ADDR; the doctor reads the mailbox passwords from Vault");
  if (!vault.token)
    problems.push("vault:token: not set, nor VAULT_TOKEN or ~/.vault-token; the doctor reads the mailbox passwords from Vault");
  if (!ingest || problems.length) {
    throw setupError(redact(`${source}: ${problems.length} problem(s):\n${problems.map((p) => `  - ${p}`).join("\n")}`, secrets));
  }
  const mailboxes = outputs["mailboxes"]?.value as Record<string, MailboxOutputs> | undefined;
  return {
    name,
    config: ingest,
    outputs: mailboxes && typeof mailboxes === "object" ? mailboxes : undefined,
    paperlessToken: token,
    vault,
    kube: kubeTargetFrom(all, PROJECT_DIR),
    secrets: [...secrets, token, vault.token],
    warnings: read.warnings,
  };
}
