// What docker-mailserver's pod sees after `pulumi up` (or `destroy`): the shared ConfigMap's two
// files with another owner's lines and this program's blocks, and one sieve ConfigMap per mailbox,
// laid out as the pod's mounts deliver them (subPath files, the sieve under its real name).
import { mkdirSync, mkdtempSync, writeFileSync } from "fs";
import { join } from "path";
import { accountLine } from "../../../core/accountLine";
import { newSalt } from "./accountSalt";
import { selfAliasLine } from "../../../core/aliasLine";
import { writeOwnedLines } from "../../../core/ownedLines";
import { renderSieve } from "../../../core/sieve";
import { sieveNames } from "../../../core/sieveConfigMap";
import type { IngestConfig } from "../../../core/types";

/** The shared ConfigMap's keys as another owner (the mailserver's own stack) keeps them. */
export interface ForeignLines {
  readonly accounts: string;
  readonly virtual: string;
}

export interface PodFiles {
  /** The ConfigMap subPath files, by name in /tmp/docker-mailserver. */
  readonly configDir: string;
  /** The sieve ConfigMaps' keys, mounted at their real names (core/sieveConfigMap.ts). */
  readonly mounts: { source: string; target: string }[];
  readonly accounts: string;
  readonly virtual: string;
}

/** One mailbox password and salt per address, as Vault and the program's state hold them. */
export type Credentials = ReadonlyMap<string, { password: string; salt: string }>;

export function newCredentials(config: IngestConfig, password: (address: string) => string): Credentials {
  return new Map(config.mailboxes.map((m) => [m.address, { password: password(m.address), salt: newSalt() }]));
}

/**
 * The pod's files with the program's lines (`applied`) or after `destroy` (not applied: the blocks
 * removed and no sieve ConfigMap mounted). Blocks are written one mailbox at a time, as the
 * ConfigMapLines resources edit the shared keys.
 */
export function podFiles(under: string, config: IngestConfig, foreign: ForeignLines, credentials: Credentials, applied: boolean): PodFiles {
  let accounts = foreign.accounts;
  let virtual = foreign.virtual;
  for (const m of config.mailboxes) {
    const c = credentials.get(m.address)!;
    accounts = writeOwnedLines(accounts, m.address, applied ? [accountLine(m.address, c.password, c.salt)] : []);
    virtual = writeOwnedLines(virtual, m.address, applied ? [selfAliasLine(m.address)] : []);
  }
  const dir = mkdtempSync(join(under, "pod-"));
  const configDir = join(dir, "config");
  const sieveDir = join(dir, "sieve");
  mkdirSync(configDir);
  mkdirSync(sieveDir);
  // Mounted under DMS's names whatever the ConfigMap keys are called.
  writeFileSync(join(configDir, "postfix-accounts.cf"), accounts);
  writeFileSync(join(configDir, "postfix-virtual.cf"), virtual);
  const mounts = applied
    ? config.mailboxes.map((m) => {
        const mount = sieveNames(m, config.mailserver);
        const source = join(sieveDir, mount.key);
        writeFileSync(source, renderSieve(m));
        return { source, target: mount.mountPath };
      })
    : [];
  return { configDir, mounts, accounts, virtual };
}
