// Vault in dev mode on loopback: in memory, unsealed, a root token of our choosing, KV v2 at
// `secret/` (what `vault server -dev` mounts).
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { binary } from "./binaries";
import { startDaemon, waitReady } from "./daemon";
import { freePorts } from "./ports";

export interface VaultDev {
  /** http://127.0.0.1:<port> */
  readonly addr: string;
  readonly rootToken: string;
  /** Vault's HTTP API as the root token (or `token`); resolves with status and parsed body. */
  api: (method: string, path: string, body?: unknown, token?: string) => Promise<{ status: number; json: any }>;
  readonly timings: Record<string, number>;
  stop(): Promise<void>;
}

export async function startVault(dir: string): Promise<VaultDev> {
  mkdirSync(dir, { recursive: true });
  const [port] = (await freePorts(1)) as [number];
  const addr = `http://127.0.0.1:${port}`;
  // Vault refuses a chosen token id with its own prefixes (hvs., s.).
  const rootToken = `root-${randomBytes(12).toString("hex")}`;
  const t = Date.now();
  const daemon = startDaemon(
    "vault",
    binary("vault"),
    ["server", "-dev", `-dev-listen-address=127.0.0.1:${port}`, `-dev-root-token-id=${rootToken}`, "-dev-no-store-token"],
    { logFile: join(dir, "vault.log"), env: { ...process.env, VAULT_DISABLE_MLOCK: "true", HOME: dir } },
  );
  const api = async (method: string, path: string, body?: unknown, token = rootToken) => {
    const res = await fetch(`${addr}/v1/${path}`, {
      method,
      headers: { "x-vault-token": token, ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  };
  try {
    // Ready when unsealed and the KV v2 mount answers.
    await waitReady(daemon, "the secret/ mount", async () => (await api("GET", "sys/mounts/secret/tune")).status === 200);
  } catch (e) {
    await daemon.stop();
    throw e;
  }
  return { addr, rootToken, api, timings: { vault: Math.round((Date.now() - t) / 100) / 10 }, stop: () => daemon.stop() };
}
