// What the whole-program suite (stack.test.ts) does to and reads from the real servers: the stack
// config shaped like Pulumi.prod.yaml, the mail volume, kubectl and Vault reads.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { parse } from "yaml";
import { PROJECT } from "../../core/types";
import type { Cluster } from "../support/cluster/cluster";
import { PROD_STACK_FILE } from "../support/prodConfig";

const run = promisify(execFile);

export type StackConfig = Record<string, unknown>;

export interface SenderEntry {
  address: string;
  user: string;
  label?: string;
}
export interface MailboxEntry {
  address: string;
  senders: SenderEntry[];
  [k: string]: unknown;
}

/** Pulumi.prod.yaml's config, as a user's stack file starts. */
export function prodStack(): StackConfig {
  return (parse(readFileSync(PROD_STACK_FILE, "utf8")) as { config: StackConfig }).config;
}

export const key = (k: string): string => `${PROJECT}:${k}`;

/**
 * Pulumi.prod.yaml aimed at the test servers: the cluster's mailserver Service (plain IMAP on its
 * loopback address: the test mailserver has no TLS) and Vault, a paperless URL, a kubeconfig.
 */
export function testStack(
  cluster: Pick<Cluster, "service" | "context" | "vault">,
  on: { mailboxes: MailboxEntry[]; paperlessUrl: string; fetchAfterChange: boolean; kubeconfig: string },
): StackConfig {
  const prod = prodStack();
  const imap = cluster.service("mailserver", "mailserver", 143);
  return {
    ...prod,
    [key("mailboxes")]: on.mailboxes,
    [key("mailserver")]: { ...(prod[key("mailserver")] as object), imapHost: imap.host, imapPort: imap.port, imapSecurity: "none" },
    [key("paperless")]: { ...(prod[key("paperless")] as object), url: on.paperlessUrl, fetchAfterChange: on.fetchAfterChange },
    "kubernetes:kubeconfig": on.kubeconfig,
    "kubernetes:context": cluster.context,
    "vault:address": cluster.vault.addr,
  };
}

/** kubectl (the real one) against the test cluster; returns stdout. */
export async function kubectl(bin: string, kubeconfig: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(bin, args, { env: { ...process.env, KUBECONFIG: kubeconfig }, maxBuffer: 64 << 20 });
  return stdout;
}

export async function kubectlJson<T = any>(bin: string, kubeconfig: string, ...args: string[]): Promise<T> {
  return JSON.parse(await kubectl(bin, kubeconfig, ...args, "-o", "json")) as T;
}

/** Polls `probe` until it returns a value (a condition wait, not a fixed sleep). */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 180_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: Error | undefined;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e as Error;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
