// The program's slice of a Pulumi stack's config, read the same way from `pulumi.runtime.allConfig()`
// (in the Pulumi program) and from the stack YAML file (in the offline render).
import { readFileSync } from "fs";
import { parse as parseYaml } from "yaml";
import { ConfigError, parseConfig } from "./config";
import { PROJECT, type IngestConfig } from "./types";

/** Plain (non-secret) structured keys; together they are the input of parseConfig. */
export const PLAIN_KEYS = ["mailboxes", "mailserver", "paperless", "vault"] as const;
/** Keys that must only ever be set with `pulumi config set --secret`. */
export const SECRET_KEYS = ["paperlessToken", "mailboxPasswords"] as const;

export interface StackConfig {
  /** Input of parseConfig. */
  readonly raw: Record<string, unknown>;
  /** Problems with the keys themselves (unknown keys, secrets in clear). */
  readonly problems: string[];
}

const unknownKey = (key: string): string =>
  `${PROJECT}:${key}: unknown config key (known: ${[...PLAIN_KEYS, ...SECRET_KEYS].join(", ")})`;

const isSecure = (v: unknown): boolean =>
  v !== null && typeof v === "object" && Object.keys(v).length === 1 && typeof (v as { secure?: unknown }).secure === "string";

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
 * namespaces (`kubernetes:context`, `vault:address`, …) belong to their providers and pass through.
 */
export function fromStackFile(config: Record<string, unknown>): StackConfig {
  const raw: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [fullKey, value] of Object.entries(config)) {
    const [ns, key] = fullKey.includes(":") ? fullKey.split(/:(.*)/s) as [string, string] : [PROJECT, fullKey];
    if (ns !== PROJECT) continue;
    if ((PLAIN_KEYS as readonly string[]).includes(key)) raw[key] = value;
    else if ((SECRET_KEYS as readonly string[]).includes(key)) {
      for (const leaf of clearLeaves(value, key)) {
        problems.push(`${leaf}: is stored in clear; set it with \`pulumi config set --secret\` (or the environment) instead`);
      }
    } else {
      problems.push(unknownKey(key));
    }
  }
  return { raw, problems };
}

/**
 * The same split for the Pulumi program, from `pulumi.runtime.allConfig()` (values are JSON text,
 * secrets already decrypted: those are read through pulumi.Config so they stay secret outputs).
 */
export function fromRuntime(all: Record<string, string>): StackConfig {
  const raw: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [fullKey, text] of Object.entries(all)) {
    const [ns, key] = fullKey.split(/:(.*)/s) as [string, string];
    if (ns !== PROJECT || (SECRET_KEYS as readonly string[]).includes(key)) continue;
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
  return { raw, problems };
}

/**
 * Read and validate a stack file (`Pulumi.<stack>.yaml`) without the Pulumi CLI: the offline
 * render and the tests use it. Throws a ConfigError listing every problem, with the file named.
 */
export function loadStackFile(path: string): IngestConfig {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, "utf8"));
  } catch (e) {
    throw new ConfigError([`cannot read the stack file: ${(e as Error).message}`], path);
  }
  const config = doc !== null && typeof doc === "object" ? (doc as { config?: unknown }).config : undefined;
  if (config === null || typeof config !== "object" || Array.isArray(config)) {
    throw new ConfigError(["has no `config:` map (is this a Pulumi stack file?)"], path);
  }
  const { config: ingest, problems } = validateStack(fromStackFile(config as Record<string, unknown>));
  if (!ingest) throw new ConfigError(problems, path);
  return ingest;
}

/** The key problems and the schema's, together; the config only when there are none. */
export function validateStack(stack: StackConfig): { config?: IngestConfig; problems: string[] } {
  const parsed = parseConfig(stack.raw);
  const problems = [...stack.problems, ...(parsed.ok ? [] : parsed.problems)];
  return parsed.ok && !problems.length ? { config: parsed.config, problems } : { problems };
}
