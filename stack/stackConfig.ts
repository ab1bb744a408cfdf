// The program's slice of a Pulumi stack's config, read the same way from `pulumi.runtime.allConfig()`
// (in the Pulumi program) and from the stack YAML file (in the offline render).
import { closeSync, openSync, readSync } from "fs";
import { parse as parseYaml } from "yaml";
import { configError, isConfigError, parseConfig } from "./config";
import { escapeUnsafe } from "../core/displayText";
import { PROJECT, type IngestConfig } from "../core/types";
import { isTruthy, vaultKeyProblem } from "./vaultProviderKeys";

/** Plain (non-secret) structured keys; together they are the input of parseConfig. */
export const PLAIN_KEYS = ["mailboxes", "mailserver", "paperless", "vault", "doctor", "canary"] as const;
/** Keys that must only ever be set with `pulumi config set --secret`. */
export const SECRET_KEYS = ["paperlessToken", "mailboxPasswords"] as const;

/**
 * The largest stack file the render reads (it is read up to one byte more, so `/dev/zero` or a
 * wrong file stops there): a bound on reading, far above what the program can take
 * (PROGRAM_CONFIG_MAX_BYTES), so that comments and layout never reach it first.
 */
export const STACK_FILE_MAX_BYTES = 4 * 1024 * 1024;

export interface StackConfig {
  /** Input of parseConfig. */
  readonly raw: Record<string, unknown>;
  /** Problems with the keys themselves (unknown keys, secrets in clear). */
  readonly problems: string[];
  /** Settings that are allowed but weaken the deployment (TLS checks off): said at every run. */
  readonly warnings: string[];
}

/**
 * The Node language host hands the whole stack config to the program in one environment variable,
 * PULUMI_CONFIG (JSON of `<namespace>:config:<name>` -> value text); Linux refuses to start a
 * program with a variable over MAX_ARG_STRLEN (32 pages: 131072 bytes, name and NUL included),
 * and the CLI then fails with "argument list too long". About 1,200 senders of 100 bytes fit.
 */
export const PROGRAM_CONFIG_MAX_BYTES = 131072;

/**
 * PULUMI_CONFIG's size for a stack file's `config:` map, at most a few bytes over: a secret counts
 * with its ciphertext (the program gets the shorter plain text), and `<`, `>`, `&` as Go's JSON
 * writes them (`\u003c`).
 */
export function programConfigBytes(config: Record<string, unknown>): number {
  const entries = Object.entries(config).map(([fullKey, value]) => {
    const [ns, name] = fullKey.includes(":") ? (fullKey.split(/:(.*)/s) as [string, string]) : [PROJECT, fullKey];
    const text = isSecure(value) ? (value as { secure: string }).secure : typeof value === "string" ? value : JSON.stringify(value);
    return [`${ns}:config:${name}`, text];
  });
  const json = JSON.stringify(Object.fromEntries(entries));
  return Buffer.byteLength(`PULUMI_CONFIG=${json}`) + 1 + 5 * (json.match(/[<>&]/g)?.length ?? 0);
}

const unknownKey = (key: string): string => `${PROJECT}:${key}: unknown config key (known: ${[...PLAIN_KEYS, ...SECRET_KEYS].join(", ")})`;

const clearProjectSecret = (path: string): string =>
  `${path}: is stored in clear; set it with \`pulumi config set --secret\` (or the environment) instead`;

/** A kubeconfig value is its text when it looks like YAML/JSON with clusters, otherwise a path. */
export function isKubeconfigText(value: string): boolean {
  const text = value.trim();
  return text.includes("\n") || text.startsWith("{") || /(^|\s)clusters:/.test(text);
}

/**
 * The providers' keys that carry credentials, and when a value is one: the Vault token always,
 * `kubernetes:kubeconfig` when it holds the kubeconfig's text rather than a file's path.
 */
const PROVIDER_SECRETS: readonly { key: string; holdsSecret: (value: unknown) => boolean; fix: string }[] = [
  {
    key: "vault:token",
    holdsSecret: () => true,
    fix: "run `pulumi config set --secret vault:token <token>` (or export VAULT_TOKEN) instead",
  },
  {
    key: "kubernetes:kubeconfig",
    holdsSecret: (v) => typeof v === "string" && isKubeconfigText(v),
    fix: "it holds the kubeconfig's text (its credentials): run `pulumi config set --secret kubernetes:kubeconfig < <file>`, or give the file's path instead",
  },
];

const providerSecretProblem = (key: string, fix: string): string => `${key}: is stored in clear; ${fix}`;

/** Said at preview, up and render: the Vault token then goes to whoever answers at vault:address. */
export function skipTlsWarning(source: string): string {
  return (
    `${source} turns off the check of Vault's TLS certificate: the Vault token goes to whoever answers at ` +
    "vault:address; give Vault's CA with vault:caCertFile (or VAULT_CACERT) instead"
  );
}

const isSecure = (v: unknown): boolean =>
  v !== null && typeof v === "object" && Object.keys(v).length === 1 && typeof (v as { secure?: unknown }).secure === "string";

const pushDefined = (list: string[], item: string | undefined): void => {
  if (item !== undefined) list.push(item);
};

/** Every leaf of a secret key must be encrypted (`secure:`) in the stack file. */
function clearLeaves(value: unknown, path: string): string[] {
  if (isSecure(value)) return [];
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    return Object.entries(value).flatMap(([k, v]) => clearLeaves(v, `${path}.${k}`));
  }
  return [path];
}

/**
 * Split `paperless-mail-ingest:*` entries from a stack file's `config:` map. Keys of other
 * namespaces (`kubernetes:context`, `vault:address`, …) belong to their providers and pass
 * through, except that a credential among them must be encrypted too.
 */
export function fromStackFile(config: Record<string, unknown>): StackConfig {
  const raw: Record<string, unknown> = {};
  const problems: string[] = [];
  const warnings: string[] = [];
  const bytes = programConfigBytes(config);
  if (bytes > PROGRAM_CONFIG_MAX_BYTES) {
    problems.push(
      `config: is ${bytes} bytes as the Pulumi CLI hands it to the program (all of it in one environment variable, ` +
        `PULUMI_CONFIG), over the ${PROGRAM_CONFIG_MAX_BYTES} bytes Linux allows one variable (MAX_ARG_STRLEN): \`pulumi preview\` ` +
        'would fail with "argument list too long"; move some mailboxes or senders to another stack',
    );
  }
  for (const [fullKey, value] of Object.entries(config)) {
    const [ns, key] = fullKey.includes(":") ? (fullKey.split(/:(.*)/s) as [string, string]) : [PROJECT, fullKey];
    if (ns !== PROJECT) {
      const secret = PROVIDER_SECRETS.find((s) => s.key === fullKey);
      if (secret && !isSecure(value) && secret.holdsSecret(value)) problems.push(providerSecretProblem(fullKey, secret.fix));
      if (ns === "vault") pushDefined(problems, vaultKeyProblem(key, value));
      if (fullKey === "vault:skipTlsVerify" && isTruthy(value)) warnings.push(skipTlsWarning("vault:skipTlsVerify"));
      continue;
    }
    if ((PLAIN_KEYS as readonly string[]).includes(key)) raw[key] = value;
    else if ((SECRET_KEYS as readonly string[]).includes(key)) problems.push(...clearLeaves(value, key).map(clearProjectSecret));
    else problems.push(unknownKey(key));
  }
  return { raw, problems, warnings };
}

/**
 * The same split for the Pulumi program, from `pulumi.runtime.allConfig()` (values are JSON text,
 * secrets already decrypted: those are read through pulumi.Config so they stay secret outputs).
 * `isSecret` says whether a key was set with `--secret` (the engine tells the program which).
 */
export function fromRuntime(all: Record<string, string>, isSecret: (fullKey: string) => boolean, env: NodeJS.ProcessEnv = {}): StackConfig {
  const raw: Record<string, unknown> = {};
  const problems: string[] = [];
  const warnings: string[] = [];
  for (const [fullKey, text] of Object.entries(all)) {
    const [ns, key] = fullKey.split(/:(.*)/s) as [string, string];
    if (ns !== PROJECT) {
      const secret = PROVIDER_SECRETS.find((s) => s.key === fullKey);
      if (secret && !isSecret(fullKey) && secret.holdsSecret(text)) problems.push(providerSecretProblem(fullKey, secret.fix));
      if (ns === "vault") pushDefined(problems, vaultKeyProblem(key, text));
      continue;
    }
    if ((SECRET_KEYS as readonly string[]).includes(key)) {
      if (!isSecret(fullKey)) problems.push(clearProjectSecret(key));
      continue;
    }
    if (!(PLAIN_KEYS as readonly string[]).includes(key)) {
      problems.push(unknownKey(key));
      continue;
    }
    try {
      raw[key] = JSON.parse(text);
    } catch {
      raw[key] = text; // a plain string where an object is expected: the schema names it
    }
  }
  // As the Vault provider reads it: the key, else the environment.
  const skipTls = all["vault:skipTlsVerify"];
  if (skipTls !== undefined ? isTruthy(skipTls) : isTruthy(env["VAULT_SKIP_VERIFY"])) {
    warnings.push(skipTlsWarning(skipTls !== undefined ? "vault:skipTlsVerify" : "VAULT_SKIP_VERIFY"));
  }
  return { raw, problems, warnings };
}

/** The file's text, read up to STACK_FILE_MAX_BYTES (a device or a huge file is never read whole). */
function readBounded(path: string): string {
  const fd = openSync(path, "r");
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(1 << 20, STACK_FILE_MAX_BYTES + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      total += n;
      chunks.push(chunk.subarray(0, n));
      if (total > STACK_FILE_MAX_BYTES) {
        throw configError(
          [`is larger than ${STACK_FILE_MAX_BYTES} bytes (4 MiB), the most a stack file may be; is it the stack file?`],
          path,
        );
      }
    }
    return Buffer.concat(chunks).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/**
 * Read and validate a stack file (`Pulumi.<stack>.yaml`) without the Pulumi CLI: the offline
 * render and the tests use it. Throws a ConfigError listing every problem, with the file named.
 */
export function readStackFile(path: string): { config: IngestConfig; warnings: string[] } {
  let doc: unknown;
  try {
    doc = parseYaml(readBounded(path));
  } catch (e) {
    if (isConfigError(e)) throw e;
    throw configError([`cannot read the stack file: ${escapeUnsafe((e as Error).message)}`], path);
  }
  const config = doc !== null && typeof doc === "object" ? (doc as { config?: unknown }).config : undefined;
  if (config === null || typeof config !== "object" || Array.isArray(config)) {
    throw configError(["has no `config:` map (is this a Pulumi stack file?)"], path);
  }
  const stack = fromStackFile(config as Record<string, unknown>);
  const { config: ingest, problems } = validateStack(stack);
  if (!ingest) throw configError(problems, path);
  return { config: ingest, warnings: stack.warnings };
}

/** The key problems and the schema's, together; the config only when there are none. */
export function validateStack(stack: StackConfig): { config?: IngestConfig; problems: string[] } {
  const parsed = parseConfig(stack.raw);
  const problems = [...stack.problems, ...(parsed.ok ? [] : parsed.problems)];
  return parsed.ok && !problems.length ? { config: parsed.config, problems } : { problems };
}
