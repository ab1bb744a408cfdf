// Dynamic provider whose only work is in check(): asks Vault whether the configured token may
// write the mailbox password where MailboxSecret will put it, and create the child token the
// Vault provider works with. The Vault provider's secret does
// nothing at preview, so a read-only token, a rejected token or an unreachable Vault would only
// fail mid-`up`, after the RandomText and everything not waiting on Vault had been created.
// Here each fails the preview with one message naming the cause and the fix.
import type * as pulumi from "@pulumi/pulumi";
import { PROJECT } from "../../core/types";
import type { HttpSettings } from "../http/settings";
import { CAPABILITIES_SELF, capabilitiesSelf, type CapabilitiesAnswer, vaultHttpSettings } from "./vaultClient";
import { redact } from "../redact";

export interface VaultWritePreflightProps {
  /** Vault's origin URL; empty when unset. */
  address: string;
  /** `vault:address` or `VAULT_ADDR`. */
  addressSource: string;
  /** Empty when unset. Never returned from check(), so it reaches no state, output or message. */
  token: string;
  /** `vault:token`, `VAULT_TOKEN` or `~/.vault-token`. */
  tokenSource: string;
  namespace: string;
  caCertFile: string;
  skipTlsVerify: boolean;
  /** KV v2 mount and secret name: the secret's path is `<mount>/<name>`. */
  mount: string;
  name: string;
  /** The Vault provider's `vault:skipChildToken`: it then uses the token itself, no child token. Default false. */
  skipChildToken?: boolean;
}

export type VaultWritePreflightInputs = { [K in keyof VaultWritePreflightProps]: pulumi.Input<VaultWritePreflightProps[K]> };

/** KV v2 keeps the secret under `<mount>/data/…` and its versions' metadata under `<mount>/metadata/…`. */
export function kvV2Paths(mount: string, name: string): { data: string; metadata: string } {
  return { data: `${mount}/data/${name}`, metadata: `${mount}/metadata/${name}` };
}

// What the Vault provider's generic secret does with each path on a KV v2 mount
// (terraform-provider-vault resource_generic_secret.go, kv_helpers.go): create/update write the
// data path and then read it back, refresh reads it; destroy, with deleteAllVersions, deletes the
// metadata path (measured: nothing reads the metadata). `root` allows everything; `deny` nothing.
const NEEDED = { data: ["create", "update", "read"], metadata: ["delete"], childToken: ["update"] } as const;

/**
 * Unless `skipChildToken` is set, the Vault provider first creates a child token of the configured
 * one (terraform-provider-vault internal/provider/meta.go, createChildToken) and works with that:
 * a token that may not do so fails every operation before any secret is touched.
 */
export const CHILD_TOKEN_PATH = "auth/token/create";

function missing(has: readonly string[], needed: readonly string[]): string[] {
  if (has.includes("deny")) return [...needed];
  if (has.includes("root")) return [];
  return needed.filter((c) => !has.includes(c));
}

const andList = (xs: readonly string[]): string =>
  xs.length <= 1 ? xs.join("") : `${xs.slice(0, -1).join(", ")} and ${xs[xs.length - 1]}`;

const CHANGE_PATH = `or change ${PROJECT}:vault.mount/pathPrefix`;
const CHECK_ADDRESS = "(`pulumi config set vault:address https://<vault-host>:8200` or VAULT_ADDR)";
const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ERR_SSL/;

export interface PreflightFailure {
  property: keyof VaultWritePreflightProps;
  reason: string;
}

/** The message for a capabilities-self answer, or undefined when the token may do everything needed. */
export function judge(p: VaultWritePreflightProps, answer: CapabilitiesAnswer): PreflightFailure | undefined {
  const { data, metadata } = kvV2Paths(p.mount, p.name);
  const ns = p.namespace ? ` (namespace ${p.namespace})` : "";
  const vault = `Vault at ${p.address}${ns}`;
  const reachable = `check ${p.addressSource} ${CHECK_ADDRESS} and that Vault is up and reachable from here`;
  switch (answer.kind) {
    case "ok": {
      const reasons: string[] = [];
      const dataCaps = answer.capabilities[data]!;
      const dataMissing = missing(dataCaps, NEEDED.data);
      if (dataMissing.length) {
        const verbs = [...new Set(dataMissing.map((c) => (c === "read" ? "read" : "write")))].join(" or ");
        const why = dataMissing.includes("read") ? " (the Vault provider reads the secret back after writing it)" : "";
        reasons.push(
          `Vault token may not ${verbs} ${data}${ns} (it has: ${dataCaps.join(", ")}); grant ${andList(dataMissing)} on that path in the token's policy${why}, ${CHANGE_PATH}`,
        );
      }
      const metaCaps = answer.capabilities[metadata]!;
      const metaMissing = missing(metaCaps, NEEDED.metadata);
      if (metaMissing.length) {
        reasons.push(
          `Vault token may not ${metaMissing.join(" or ")} ${metadata}${ns} (it has: ${metaCaps.join(", ")}); grant delete on that path in the token's policy` +
            ` (destroy removes every version there), ${CHANGE_PATH}`,
        );
      }
      const childCaps = answer.capabilities[CHILD_TOKEN_PATH];
      if (childCaps && missing(childCaps, NEEDED.childToken).length) {
        reasons.push(
          `Vault token may not create child tokens (${CHILD_TOKEN_PATH}${ns}: it has: ${childCaps.join(", ")}), which the Vault provider does first on every run;` +
            ` grant update on ${CHILD_TOKEN_PATH} in the token's policy, or set \`pulumi config set vault:skipChildToken true\``,
        );
      }
      return reasons.length ? { property: "name", reason: reasons.join("\n") } : undefined;
    }
    case "http": {
      const said = answer.errors.length ? `: ${answer.errors.join("; ")}` : "";
      if (answer.status === 403) {
        return {
          property: "token",
          reason: `Vault token rejected by ${p.address}${ns} (HTTP 403${said}) for the token from ${p.tokenSource}: it is expired, revoked, or not valid in this Vault${p.namespace ? " namespace" : ""}; log in again (\`vault login\`) and set the new token with \`pulumi config set --secret vault:token <token>\` or VAULT_TOKEN`,
        };
      }
      if (answer.status === 503) {
        return {
          property: "address",
          reason: `${vault} answered HTTP 503${said}: it is sealed or has no active node; unseal it (\`vault operator unseal\`) and preview again`,
        };
      }
      return {
        property: "address",
        reason: `${vault} answered HTTP ${answer.status}${said} to POST ${CAPABILITIES_SELF}; check that ${p.addressSource} is Vault's origin URL (scheme://host:port, no path)`,
      };
    }
    case "malformed":
      return {
        property: "address",
        reason: `${vault} answered POST ${CAPABILITIES_SELF} without capabilities for ${answer.path}; check that ${p.addressSource} points at Vault`,
      };
    case "unreachable":
      if (TLS_CODES.test(answer.code)) {
        return {
          property: "caCertFile",
          reason: `${vault} failed TLS verification (${answer.message}); set vault:caCertFile (or VAULT_CACERT) to the CA that signed Vault's certificate`,
        };
      }
      return { property: "address", reason: `${vault} (from ${p.addressSource}) is unreachable: ${answer.message}; ${reachable}` };
    case "timeout":
      return {
        property: "address",
        reason: `${vault} (from ${p.addressSource}) did not answer within ${answer.ms / 1000} s; ${reachable}`,
      };
    case "caFile":
      return {
        property: "caCertFile",
        reason: `Vault CA certificate file ${p.caCertFile} (vault:caCertFile or VAULT_CACERT) cannot be read: ${answer.message}`,
      };
  }
}

/** The one problem that keeps `pulumi up` from writing the secret, or undefined. */
export async function vaultWriteProblem(p: VaultWritePreflightProps, http: HttpSettings): Promise<PreflightFailure | undefined> {
  if (!p.address) {
    return {
      property: "address",
      reason:
        "Vault address not set: run `pulumi config set vault:address https://<vault-host>:8200` or export VAULT_ADDR (the Vault provider reads the same two)",
    };
  }
  if (!/^https?:\/\/[^/]+$/.test(p.address)) {
    return {
      property: "address",
      reason: `Vault address ${JSON.stringify(p.address)} (from ${p.addressSource}) is not an http(s) origin URL; set it to e.g. https://vault.example.org:8200 ${CHECK_ADDRESS}`,
    };
  }
  if (!p.token) {
    return {
      property: "token",
      reason:
        "Vault token not set: run `pulumi config set --secret vault:token <token>`, export VAULT_TOKEN, or `vault login` (which writes ~/.vault-token)",
    };
  }
  const { data, metadata } = kvV2Paths(p.mount, p.name);
  const answer = await capabilitiesSelf(p, [data, metadata, ...(p.skipChildToken ? [] : [CHILD_TOKEN_PATH])], http);
  const failure = judge(p, answer);
  // Vault's and Node's texts never hold the token; this keeps it that way whatever they say.
  return failure ? { ...failure, reason: redact(failure.reason, [p.token]) } : failure;
}

// Everything that decides which Vault and path are checked; the token is not among them.
const COMPARED = [
  "address",
  "addressSource",
  "tokenSource",
  "namespace",
  "caCertFile",
  "skipTlsVerify",
  "mount",
  "name",
  "skipChildToken",
] as const;

/** Inputs as kept in state: everything but the token. */
function withoutToken(p: VaultWritePreflightProps): Omit<VaultWritePreflightProps, "token"> {
  const { token: _token, ...rest } = p;
  return rest;
}

/** `timeoutMs` overrides VAULT_HTTP_TIMEOUT_MS. */
export function vaultWritePreflightProvider(opts: { timeoutMs?: number } = {}): pulumi.dynamic.ResourceProvider {
  return {
    async check(_olds: VaultWritePreflightProps, news: VaultWritePreflightProps) {
      const http = vaultHttpSettings();
      const failure = await vaultWriteProblem(news, { ...http, timeoutMs: opts.timeoutMs ?? http.timeoutMs });
      // The token is only needed here: dropping it from the checked inputs keeps it out of the
      // state, and a rotated token (a new `vault login`) is then no change to deploy.
      return { inputs: withoutToken(news), failures: failure ? [failure] : [] };
    },
    async diff(_id: string, olds: VaultWritePreflightProps, news: VaultWritePreflightProps) {
      return { changes: COMPARED.some((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k])) };
    },
    async create(inputs: VaultWritePreflightProps) {
      return { id: kvV2Paths(inputs.mount, inputs.name).data, outs: withoutToken(inputs) };
    },
    async update(_id: string, _olds: VaultWritePreflightProps, news: VaultWritePreflightProps) {
      return { outs: withoutToken(news) };
    },
  };
}
