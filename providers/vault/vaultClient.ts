// The Vault API calls of the write preflight and the doctor. POST /v1/sys/capabilities-self answers
// what the calling token may do on each of the given paths without touching them
// (https://developer.hashicorp.com/vault/api-docs/system/capabilities-self):
//   request   {"paths": ["secret/foo", …]}, token in X-Vault-Token
//   response  {"secret/foo": ["delete", "list", "read", "update"], …}
//             plus "capabilities" (the same list) when one path was asked
// A token Vault does not know (expired, revoked, another cluster or namespace) gets 403 with
// {"errors": ["permission denied"]}, or for a revoked one Go's multi-error text in one entry:
// ["2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"].
// Every outcome, failures too, is returned as a value, never thrown: each caller turns every kind
// into its own message and fix, and its switch over `kind` lets the compiler check that none is
// missed (docs/architecture.md#errors). None carries the token. Deadline, retries and redaction
// are the shared HTTP request's (providers/http/request.ts); this keeps Vault's paths, headers
// and answers.
import { readFileSync } from "node:fs";
import { httpRequest } from "../http/request";
import { httpSettingsFromEnv, type HttpSettings } from "../http/settings";

export interface VaultTarget {
  /** Origin URL, no trailing slash. */
  readonly address: string;
  readonly token: string;
  /** Vault Enterprise namespace; empty for none. */
  readonly namespace: string;
  readonly caCertFile: string;
  readonly skipTlsVerify: boolean;
}

export type CapabilitiesAnswer =
  | { kind: "ok"; capabilities: Record<string, string[]> }
  /** HTTP status other than 200, with Vault's `errors` list. */
  | { kind: "http"; status: number; errors: string[] }
  /** 200 without a capability list for one of the paths asked. */
  | { kind: "malformed"; path: string }
  /** No HTTP answer: DNS, connection refused or reset, TLS. `code` is Node's error code. */
  | { kind: "unreachable"; code: string; message: string }
  /** `message` names the method, the path and the deadline. */
  | { kind: "timeout"; ms: number; message: string }
  | { kind: "caFile"; message: string };

export const CAPABILITIES_SELF = "/v1/sys/capabilities-self";

/** Vault's `errors`, one message per entry, Go's "N errors occurred:" lists split into their items. */
function errorList(errors: unknown): string[] {
  if (!Array.isArray(errors)) return [];
  return errors.map(String).flatMap((e) => {
    const items = /^\d+ errors? occurred:/.test(e) ? [...e.matchAll(/^\s*\* (.+)$/gm)].map((m) => m[1]!.trim()) : [];
    return items.length ? items : [e.trim()];
  });
}

/** VAULT_HTTP_* (README), read at each call. */
export function vaultHttpSettings(): HttpSettings {
  return httpSettingsFromEnv("VAULT", { timeoutMs: 10_000, retries: 4, backoffMs: 500, maxBackoffMs: 8_000 });
}

/** A JSON answer of Vault's API: its fields are checked where they are read. */
interface VaultJson {
  readonly errors?: unknown;
  readonly data?: Readonly<Record<string, unknown>>;
  readonly [field: string]: unknown;
}

/** What one request got: Vault's answer, or why there was none. Never carries the token. */
type Exchange =
  | { kind: "answer"; status: number; json: VaultJson | undefined }
  | Extract<CapabilitiesAnswer, { kind: "unreachable" | "timeout" | "caFile" }>;

async function vaultCall(target: VaultTarget, method: "GET" | "POST", path: string, body: unknown, http: HttpSettings): Promise<Exchange> {
  let ca: Buffer | undefined;
  if (target.caCertFile) {
    try {
      ca = readFileSync(target.caCertFile);
    } catch (e) {
      return { kind: "caFile", message: (e as Error).message };
    }
  }
  const outcome = await httpRequest(
    {
      method,
      url: target.address + path,
      headers: {
        "x-vault-token": target.token,
        ...(target.namespace ? { "x-vault-namespace": target.namespace } : {}),
        accept: "application/json",
      },
      body,
      secrets: [target.token],
      tls: { ...(ca ? { ca } : {}), skipVerify: target.skipTlsVerify },
    },
    http,
  );
  switch (outcome.kind) {
    case "timeout":
      return { kind: "timeout", ms: outcome.deadlineMs, message: outcome.message };
    case "unreachable":
      return { kind: "unreachable", code: outcome.code, message: outcome.cause };
    case "answer": {
      let parsed: unknown;
      try {
        parsed = JSON.parse(outcome.text);
      } catch {
        parsed = undefined;
      }
      const json = parsed !== null && typeof parsed === "object" ? (parsed as VaultJson) : undefined;
      return { kind: "answer", status: outcome.status, json };
    }
  }
}

/** A POST, so never sent again after a failure, though it changes nothing (providers/http/retry.ts). */
export async function capabilitiesSelf(target: VaultTarget, paths: readonly string[], http: HttpSettings): Promise<CapabilitiesAnswer> {
  const answer = await vaultCall(target, "POST", CAPABILITIES_SELF, { paths }, http);
  if (answer.kind !== "answer") return answer;
  const { status, json } = answer;
  if (status !== 200) return { kind: "http", status, errors: errorList(json?.errors) };
  // The documented answer has the paths at the top level; Vault's generic response envelope
  // (`data`) is accepted too.
  const capabilities: Record<string, string[]> = {};
  for (const p of paths) {
    const list: unknown = json?.[p] ?? json?.data?.[p];
    if (!Array.isArray(list)) return { kind: "malformed", path: p };
    capabilities[p] = (list as unknown[]).map(String);
  }
  return { kind: "ok", capabilities };
}

export type KvReadAnswer =
  | { kind: "ok"; data: Record<string, unknown> }
  /** 404: no such secret (or every version deleted). */
  | { kind: "missing" }
  | { kind: "http"; status: number; errors: string[] }
  | Extract<CapabilitiesAnswer, { kind: "unreachable" | "timeout" | "caFile" }>;

/**
 * The current version of a KV v2 secret: GET /v1/<mount>/data/<path>
 * (https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2#read-secret-version), whose
 * answer holds the key/value map at `data.data`.
 */
export async function readKvSecret(target: VaultTarget, mount: string, path: string, http: HttpSettings): Promise<KvReadAnswer> {
  const answer = await vaultCall(target, "GET", encodeURI(`/v1/${mount}/data/${path}`), undefined, http);
  if (answer.kind !== "answer") return answer;
  const { status, json } = answer;
  if (status === 404) return { kind: "missing" };
  if (status !== 200) return { kind: "http", status, errors: errorList(json?.errors) };
  const data = json?.data?.data;
  return data !== null && typeof data === "object" ? { kind: "ok", data: data as Record<string, unknown> } : { kind: "missing" };
}
