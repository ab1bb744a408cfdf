// What the running mailserver pod holds for the program, read with ONE `kubectl exec` (as the
// program's own commands reach the pod: core/kubectlCommands.ts), whatever the number of mailboxes
// and senders: per mailbox the installed sieve's sha256, whether the pod's own sievec compiles a
// copy of it, and the program's blocks in the account and alias files the pod started from
// (subPath mounts: what the pod read at its start).
// The compiled .svbin beside the script is not looked at: docker-mailserver only copies the script
// at start and Pigeonhole compiles it at the next delivery (docs/mailserver.md), so a missing or
// older .svbin is normal after every restart; whether it compiles is asked of sievec.
import { execFile } from "node:child_process";
import { kubectlEnvironment, kubectlExec, kubectlScript, podTarget } from "../core/kubectlCommands";
import type { KubeTarget } from "../core/kubeTarget";
import { sieveHome } from "../core/mailboxCommands";
import { shellQuote } from "../core/shellQuote";
import { inDir } from "../core/names";
import { markers } from "../core/ownedLines";
import type { Mailbox, MailserverSettings } from "../core/types";

export interface InstalledSieve {
  /** sha256 (hex) of `<home>/.dovecot.sieve`; undefined when no script is installed. */
  readonly sha256?: string;
  /** The pod's `sievec` on a copy of the installed script: undefined when there was none to compile. */
  readonly compile?: { readonly ok: boolean; readonly output: string };
  /** Our lines in the files the pod started from (undefined: the file has no block of ours). */
  readonly accountsBlock?: readonly string[];
  readonly virtualBlock?: readonly string[];
}

export type PodState = ReadonlyMap<string, InstalledSieve>;

const RECORD = "@@pmi-doctor";

/** Prints `<RECORD> <address> <field>` headers, each followed by that field's lines. */
export function podStateScript(mailboxes: readonly Mailbox[], mailserver: MailserverSettings): string {
  const block = (file: string, owner: string) => {
    const { begin, end } = markers(owner);
    return `awk -v b=${shellQuote(begin)} -v e=${shellQuote(end)} '$0==e{on=0} on{print} $0==b{on=1}' ${shellQuote(file)} 2>/dev/null`;
  };
  const accounts = inDir(mailserver.configDir, mailserver.accountsKey);
  const virtual = inDir(mailserver.configDir, mailserver.virtualKey);
  const parts = mailboxes.map((m) => {
    const head = (field: string) => `echo ${shellQuote(`${RECORD} ${m.address} ${field}`)}`;
    const home = sieveHome(m, mailserver);
    const sieve = shellQuote(`${home}/.dovecot.sieve`);
    return [
      `if [ -f ${sieve} ]; then`,
      `${head("sha256")}; sha256sum < ${sieve} | cut -d' ' -f1`,
      // A copy in a private directory: the installed script and its .svbin stay untouched.
      `d=$(mktemp -d) && cp ${sieve} "$d/s.sieve" && { out=$(sievec "$d/s.sieve" "$d/s.svbin" 2>&1); rc=$?; }` +
        ` && ${head("compileRc")} && echo "$rc" && ${head("compileOutput")} && printf '%s\\n' "$out" | head -n 20; rm -rf "$d"`,
      "fi",
      `${head("accountsBlock")}; ${block(accounts, m.address)}`,
      `${head("virtualBlock")}; ${block(virtual, m.address)}`,
      // Whether a file has our block at all (an empty block and no block read alike otherwise).
      `grep -qxF ${shellQuote(markers(m.address).begin)} ${shellQuote(accounts)} 2>/dev/null && ${head("accountsPresent")}`,
      `grep -qxF ${shellQuote(markers(m.address).begin)} ${shellQuote(virtual)} 2>/dev/null && ${head("virtualPresent")}`,
    ].join("\n");
  });
  return parts.join("\n") + "\ntrue\n";
}

export function parsePodState(mailboxes: readonly Mailbox[], stdout: string): PodState {
  const fields = new Map<string, Map<string, string[]>>(mailboxes.map((m) => [m.address, new Map()]));
  let current: string[] | undefined;
  for (const line of stdout.split("\n")) {
    if (line.startsWith(`${RECORD} `)) {
      const [, address, field] = line.split(" ") as [string, string, string];
      current = [];
      fields.get(address)?.set(field, current);
    } else if (current && line !== "") {
      current.push(line);
    }
  }
  return new Map(
    mailboxes.map((m) => {
      const f = fields.get(m.address)!;
      const one = (k: string) => f.get(k)?.[0];
      const state: InstalledSieve = {
        ...(one("sha256") ? { sha256: one("sha256")! } : {}),
        ...(f.has("compileRc") ? { compile: { ok: one("compileRc") === "0", output: (f.get("compileOutput") ?? []).join("\n") } } : {}),
        ...(f.has("accountsPresent") ? { accountsBlock: f.get("accountsBlock") ?? [] } : {}),
        ...(f.has("virtualPresent") ? { virtualBlock: f.get("virtualBlock") ?? [] } : {}),
      };
      return [m.address, state];
    }),
  );
}

/** Runs the script in the mailserver container through kubectl, as the program does; rejects with kubectl's own error. */
export function readPodState(
  kube: KubeTarget,
  mailserver: MailserverSettings,
  mailboxes: readonly Mailbox[],
  timeoutMs = 120_000,
): Promise<PodState> {
  const command = kubectlScript(kubectlExec(podTarget(kube, mailserver), ["sh", "-c", podStateScript(mailboxes, mailserver)]));
  return new Promise((resolve, reject) => {
    execFile(
      "sh",
      ["-c", command],
      { env: { ...process.env, ...kubectlEnvironment(kube) }, timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err) {
          const why = err.killed ? `no answer within ${timeoutMs / 1000} s` : (stderr.trim().split("\n").pop() ?? err.message);
          reject(
            new Error(
              `kubectl exec into deploy/${mailserver.deployment} (namespace ${mailserver.namespace}, container ${mailserver.container}): ${why}`,
            ),
          );
        } else {
          resolve(parsePodState(mailboxes, stdout));
        }
      },
    );
  });
}
