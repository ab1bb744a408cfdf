// docker-mailserver's own release, running on this machine's Postfix/Dovecot/Pigeonhole in its own
// namespaces (dms-instance.sh says how and what cannot run here), and what tests read from it: the
// mail log, the mail volume, SMTP in (deliver) and IMAP out (imap.ts beside this file).
// Another process reaches a running instance through its directory: attachMailserver(dir), or
// `dms-instance.sh exec <dir> -- <command…>` / `dms-instance.sh stop <dir>` from a shell.
import { execFile, execFileSync, spawn } from "child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "fs";
import { createServer } from "net";
import { tmpdir } from "os";
import { join } from "path";
import { type CodedError, codedError, hasCode } from "../../../core/codedError";
import { sendMail, type Envelope } from "./smtp";

export const DMS_VERSIONS = ["v15.0.0", "v15.1.0"] as const;
export type DmsVersion = (typeof DMS_VERSIONS)[number];

export const INSTANCE_SCRIPT = join(__dirname, "dms-instance.sh");
const REPO = join(__dirname, "..", "..", "..");
const WAIT_MS = 20_000;

export interface MailserverOptions {
  readonly version: DmsVersion;
  /**
   * Every regular file here is mounted read-only at /tmp/docker-mailserver/<name>, as ConfigMap
   * subPath mounts: copied at start, so later edits never reach the running instance.
   */
  readonly configDir?: string;
  /** Instead of configDir: this directory, writable, is /tmp/docker-mailserver (DMS's change detector applies its edits). */
  readonly configVolume?: string;
  /** Further read-only file mounts: host file -> absolute path in the container. */
  readonly mounts?: readonly { readonly source: string; readonly target: string }[];
  /** The mail volume (/var/mail): outlives the instance, as it outlives a pod. */
  readonly mailDir: string;
  /** Container environment (the Deployment's env); see dms-instance.sh for what is forced. */
  readonly env?: Readonly<Record<string, string>>;
  /** Where the instance keeps its pid, ports and logs; a fresh temporary directory by default. */
  readonly instanceDir?: string;
  readonly timeoutSeconds?: number;
}

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** One recipient's outcome, from Postfix's log lines. */
export interface RecipientResult {
  readonly to: string;
  readonly origTo?: string;
  readonly status: string;
  readonly detail: string;
}

export interface Delivery {
  readonly queueId: string;
  readonly recipients: readonly RecipientResult[];
}

const MAILSERVER_START_ERROR = "MAILSERVER_START_ERROR";

/** docker-mailserver stopped (or never came up); `output` is its container output. */
type MailserverStartError = CodedError<typeof MAILSERVER_START_ERROR, { output: string }>;

const isMailserverStartError = (e: unknown): e is MailserverStartError => hasCode(e, MAILSERVER_START_ERROR);

const sources = new Map<DmsVersion, string>();
/** The release source of a pinned tag (scripts/lib/source.sh: vendored archive or GitHub, cached). */
export function dmsSource(version: DmsVersion): string {
  let dir = sources.get(version);
  if (!dir) {
    const out = execFileSync("bash", [join(REPO, "scripts", "lib", "source.sh"), "docker-mailserver", version], { encoding: "utf8" });
    dir = out.trim().split("\n").pop()!;
    sources.set(version, dir);
  }
  return dir;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Polls `probe` until it returns a value; a condition wait, not a fixed sleep. */
export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const readIfExists = (path: string): string => (existsSync(path) ? readFileSync(path, "utf8") : "");
const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function run(args: string[]): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile("bash", [INSTANCE_SCRIPT, ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      // A string code is a failure to run bash at all; a signal counts as a failed command.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- an Error, which @types/node's Omit<> hides
      if (typeof error?.code === "string") reject(error);
      else resolve({ code: error ? (error.code ?? -1) : 0, stdout, stderr });
    });
  });
}

/**
 * Starts an instance and resolves once docker-mailserver reports it is up and both ports are its own.
 * An instance gone before its console got a single line never ran docker-mailserver's start-up
 * (its namespaces or mounts failed, or it was killed): that is started once more, saying so on
 * stderr. dms-instance.sh rules out the two causes seen in full CI runs (a stop by a stale pid
 * reused by the new instance: it checks the start time; a pid file written while it looked: it
 * reads the file first), so this is for a start-up that truly died before its first line.
 * A start-up that printed anything fails at once.
 */
export async function startMailserver(options: MailserverOptions): Promise<Mailserver> {
  try {
    return await startOnce(options);
  } catch (e) {
    if (!isMailserverStartError(e) || e.output !== "" || !/stopped during start-up/.test(e.message)) throw e;
    process.stderr.write(`startMailserver: ${e.message.trim()} (console empty); starting once more\n`);
    return await startOnce(options);
  }
}

async function startOnce(options: MailserverOptions): Promise<Mailserver> {
  if (process.getuid?.() !== 0) throw new Error("docker-mailserver instances need root (namespaces, mounts, chroot)");
  const dir = options.instanceDir ?? mkdtempSync(join(tmpdir(), "dms-"));
  const [smtp, imap, quota] = [await freePort(), await freePort(), await freePort()];
  const args = [
    "start",
    dir,
    "--dms",
    dmsSource(options.version),
    "--mail-dir",
    options.mailDir,
    "--smtp-port",
    String(smtp),
    "--imap-port",
    String(imap),
    "--quota-port",
    String(quota),
    "--timeout",
    String(options.timeoutSeconds ?? 180),
  ];
  if (options.configDir) args.push("--config-dir", options.configDir);
  if (options.configVolume) args.push("--config-volume", options.configVolume);
  for (const m of options.mounts ?? []) args.push("--mount", `${m.source}:${m.target}`);
  for (const [k, v] of Object.entries(options.env ?? {})) args.push("--env", `${k}=${v}`);
  const result = await new Promise<ExecResult>((resolve, reject) => {
    // Progress lines (every 30 s) and forced settings reach the caller's stderr as they come.
    const child = spawn("bash", [INSTANCE_SCRIPT, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (/still starting|cannot run here/.test(String(d))) process.stderr.write(d);
    });
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
  if (result.code !== 0) {
    throw codedError(MAILSERVER_START_ERROR, `docker-mailserver ${options.version} did not start:\n${result.stderr}`, {
      output: readIfExists(join(dir, "console.log")),
    });
  }
  return attachMailserver(dir);
}

/** A running (or stopped) instance, from its directory: what another process uses. */
export function attachMailserver(instanceDir: string): Mailserver {
  const ports = Object.fromEntries(
    readFileSync(join(instanceDir, "ports"), "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split("=")),
  );
  const release = readFileSync(join(instanceDir, "dms"), "utf8").trim();
  const version = DMS_VERSIONS.find((v) => release.endsWith(`-${v}`));
  if (!version) throw new Error(`${instanceDir}: unknown docker-mailserver release ${release}`);
  return new Mailserver(
    instanceDir,
    version,
    Number(ports.smtp),
    Number(ports.imap),
    readFileSync(join(instanceDir, "mail-dir"), "utf8").trim(),
  );
}

export class Mailserver {
  constructor(
    readonly instanceDir: string,
    readonly version: DmsVersion,
    readonly smtpPort: number,
    readonly imapPort: number,
    /** The mail volume on this machine (the container's /var/mail). */
    readonly mailDir: string,
  ) {}

  /** `<command> [args…]` inside the container, as `kubectl exec` runs it. */
  execArgv(argv: readonly string[]): Promise<ExecResult> {
    return run(["exec", this.instanceDir, "--", ...argv]);
  }

  /** `sh -c <script>` inside the container. */
  exec(script: string): Promise<ExecResult> {
    return this.execArgv(["/bin/sh", "-c", script]);
  }

  /** docker-mailserver's mail log (/var/log/mail/mail.log: Postfix and Dovecot through rsyslog). */
  log(): string {
    return readIfExists(join(this.instanceDir, "log", "mail", "mail.log"));
  }

  /** The container's output (`kubectl logs`): start-mailserver.sh's messages, panics included. */
  console(): string {
    return readIfExists(join(this.instanceDir, "console.log"));
  }

  /** Graceful stop (SIGTERM, SIGKILL after `graceSeconds`); 0 kills at once. The instance dir stays. */
  async stop(graceSeconds = 30): Promise<void> {
    const r = await run(["stop", this.instanceDir, "--grace", String(graceSeconds)]);
    if (r.code !== 0) throw new Error(`stopping ${this.instanceDir}: ${r.stderr}`);
  }

  /** Hands the message to Postfix over SMTP and waits until Postfix is done with it. */
  async deliver(envelope: Envelope, message: string): Promise<Delivery> {
    const queueId = await sendMail(this.smtpPort, envelope, message);
    await waitFor(`Postfix to finish ${queueId}`, () => (this.log().includes(` ${queueId}: removed`) ? true : undefined));
    const recipients = [
      ...this.log().matchAll(new RegExp(` ${queueId}: to=<([^>]*)>,(?: orig_to=<([^>]*)>,)? .*status=(\\w+) (.*)$`, "gm")),
    ].map(([, to = "", origTo, status = "", detail = ""]) => ({ to, ...(origTo ? { origTo } : {}), status, detail }));
    return { queueId, recipients };
  }

  /** Dovecot's sieve log line about the message (a discard leaves no other trace). */
  verdict(messageId: string): Promise<string> {
    const marker = `msgid=${messageId}: `;
    return waitFor(`Dovecot's log line for ${messageId}`, () =>
      this.log()
        .split("\n")
        .find((l) => l.includes(marker)),
    );
  }

  /** Log lines reporting sieve problems (a script that fails is skipped and the mail kept). */
  sieveProblems(): string[] {
    return this.log()
      .split("\n")
      .filter((l) => /Failed to compile|sieve: .*(error|failed)/i.test(l));
  }

  /** `login:folder` of every stored copy of the message, in every maildir of the mail volume. */
  locate(messageId: string): string[] {
    const found: string[] = [];
    const header = new RegExp(`^Message-ID: ${escapeRegExp(messageId)}\\s*$`, "im");
    for (const domain of readdirSync(this.mailDir)) {
      for (const user of readdirSync(join(this.mailDir, domain))) {
        const maildir = join(this.mailDir, domain, user);
        const folders = [
          ["INBOX", maildir],
          ...readdirSync(maildir)
            .filter((n) => n.startsWith(".") && existsSync(join(maildir, n, "cur")))
            .map((n) => [n.slice(1), join(maildir, n)]),
        ] as [string, string][];
        for (const [name, dir] of folders) {
          for (const sub of ["new", "cur"]) {
            const path = join(dir, sub);
            if (!existsSync(path)) continue;
            for (const file of readdirSync(path)) {
              const head = readFileSync(join(path, file), "utf8").split(/\r?\n\r?\n/)[0] ?? "";
              if (header.test(head)) found.push(`${user}@${domain}:${name}`);
            }
          }
        }
      }
    }
    return found;
  }
}
