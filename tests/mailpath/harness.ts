// Real Postfix + Dovecot, configured the way docker-mailserver 15 configures them (design §1),
// started on loopback from the text of its config files. It follows the measured pitfalls of
// running these daemons in tests: uid 5000, 0755 dirs, no chroot, backdated maps, pid-file stop.
import { execFile, spawn } from "child_process";
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "fs";
import { createConnection, createServer } from "net";
import { tmpdir } from "os";
import { join } from "path";
import { promisify } from "util";
import { sendMail, type Envelope } from "./smtp";

const run = promisify(execFile);

/** docker-mailserver's vmail uid/gid. */
const VMAIL = 5000;
const WAIT_MS = 10_000;

/** The files docker-mailserver reads from /tmp/docker-mailserver. */
export interface DmsConfig {
  /** postfix-accounts.cf text. */
  readonly accounts: string;
  /** postfix-virtual.cf text. */
  readonly virtual: string;
  /** `<login>.dovecot.sieve` file name -> script text. */
  readonly sieves: Readonly<Record<string, string>>;
}

export interface Account {
  readonly login: string;
  readonly user: string;
  readonly domain: string;
  readonly hash: string;
  readonly attributes: string;
}

/** One recipient's outcome, from Postfix's log. */
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

/**
 * DMS `_create_accounts`: `while IFS='|' read -r LOGIN PASS USER_ATTRIBUTES` over the non-blank,
 * non-comment lines. On a read-only ConfigMap mount DMS cannot add a missing final newline or strip
 * CRs, so like `read` a last line without `\n` is lost and a CR stays part of the hash.
 */
function dmsAccounts(text: string): Account[] {
  const lines = text.split("\n").slice(0, -1);
  return lines.filter((l) => !/^\s*(#|$)/.test(l)).map((line) => {
    const [login = "", hash = "", ...rest] = line.split("|");
    const [user = "", domain = ""] = login.split("@");
    return { login, user, domain, hash, attributes: rest.join("|") };
  });
}

async function freePort(): Promise<number> {
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
async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const readIfExists = (path: string): string => (existsSync(path) ? readFileSync(path, "utf8") : "");

/** A zombie counts as gone: the daemons fork away from us and pid 1 may never reap them. */
function alive(pid: number): boolean {
  const stat = readIfExists(`/proc/${pid}/stat`);
  return stat !== "" && stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
}

/**
 * Runs a command that daemonizes. Its output goes to a file, not a pipe: the daemon inherits the
 * descriptors, and a pipe would stay open (and `execFile` waiting) for the daemon's whole life.
 */
async function startDaemon(outFile: string, command: string, args: string[]): Promise<void> {
  const out = openSync(outFile, "a");
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(command, args, { stdio: ["ignore", out, out] });
      child.once("error", reject);
      child.once("exit", resolve);
    });
    if (code !== 0) throw new Error(`${command} ${args.join(" ")} exited with ${code}:\n${readIfExists(outFile)}`);
  } finally {
    closeSync(out);
  }
}

function mkdirs(...paths: string[]): void {
  for (const p of paths) mkdirSync(p, { recursive: true, mode: 0o755 });
}

function chownVmail(path: string): void {
  chownSync(path, VMAIL, VMAIL);
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) chownVmail(child);
    else chownSync(child, VMAIL, VMAIL);
  }
}

/** Fail with the fix rather than with an EPERM or ENOENT from somewhere inside the setup. */
function preflight(): void {
  // Dovecot's delivery switches to uid 5000 and Postfix's master must start as root.
  if (process.getuid?.() !== 0) throw new Error("the mail-path tests start Postfix and Dovecot and must run as root");
  const missing = ["/usr/sbin/postfix", "/usr/sbin/dovecot", "/usr/bin/sievec", "/usr/lib/dovecot/lmtp", "/usr/lib/dovecot/imap"]
    .filter((f) => !existsSync(f));
  if (missing.length) throw new Error(`missing ${missing.join(", ")}: run scripts/install-mail-daemons.sh`);
}

export class MailServer {
  readonly accounts: readonly Account[];
  /** docker-mailserver's /var/mail. */
  readonly mailRoot: string;
  /** `doveadm` bound to this instance, for the program's shell commands. */
  readonly doveadm: string;
  private readonly dovecotConf: string;
  private readonly dovecotLogFile: string;
  private readonly postfixLogFile: string;
  private readonly pidFiles: string[] = [];

  private constructor(
    readonly root: string,
    readonly smtpPort: number,
    readonly imapPort: number,
    dms: DmsConfig,
  ) {
    this.accounts = dmsAccounts(dms.accounts);
    this.mailRoot = join(root, "mail");
    this.dovecotConf = join(root, "dovecot", "dovecot.conf");
    this.doveadm = `doveadm -c ${this.dovecotConf}`;
    this.dovecotLogFile = join(root, "dovecot.log");
    this.postfixLogFile = join(root, "postfix.log");
  }

  /** Writes both configurations from `dms`, installs the sieves and starts both daemons. */
  static async start(dms: DmsConfig): Promise<MailServer> {
    preflight();
    // Short path: Dovecot's unix sockets live under it (108-byte limit).
    const root = mkdtempSync(join(tmpdir(), "mp-"));
    chmodSync(root, 0o755);
    const server = new MailServer(root, await freePort(), await freePort(), dms);
    try {
      await server.installAccounts(dms);
      await server.checkSieves();
      await server.startDovecot();
      await server.startPostfix(dms);
      return server;
    } catch (e) {
      await server.stop();
      throw e;
    }
  }

  /** DMS `_create_accounts`: userdb lines, vmailbox lines, home dirs and the one-way sieve copy. */
  private async installAccounts(dms: DmsConfig): Promise<void> {
    const dmsDir = join(this.root, "docker-mailserver");
    mkdirs(dmsDir, join(this.root, "dovecot"), join(this.root, "postfix"), this.mailRoot);
    for (const [name, text] of Object.entries(dms.sieves)) writeFileSync(join(dmsDir, name), text);
    const userdb = this.accounts.map((a) =>
      `${a.login}:${a.hash}:${VMAIL}:${VMAIL}::${this.mailRoot}/${a.domain}/${a.user}/home::${a.attributes}\n`);
    const userdbFile = join(this.root, "dovecot", "userdb");
    writeFileSync(userdbFile, userdb.join(""), { mode: 0o640 });
    for (const a of this.accounts) {
      const home = join(this.mailRoot, a.domain, a.user, "home");
      mkdirs(home);
      const sieve = join(dmsDir, `${a.login}.dovecot.sieve`);
      if (existsSync(sieve)) writeFileSync(join(home, ".dovecot.sieve"), readFileSync(sieve));
    }
    chownVmail(this.mailRoot);
    // Read by Dovecot's auth process; DMS does the same `chown dovecot:dovecot` + 0640.
    await run("chown", ["dovecot:dovecot", userdbFile]);
  }

  /** A script that does not compile is silently ignored by LMTP and the mail KEPT: fail first. */
  private async checkSieves(): Promise<void> {
    for (const a of this.accounts) {
      const script = join(this.mailRoot, a.domain, a.user, "home", ".dovecot.sieve");
      if (!existsSync(script)) continue;
      try {
        await run("sievec", [script, join(this.root, `${a.login}.check.svbin`)]);
      } catch (e) {
        const { stdout, stderr } = e as { stdout?: string; stderr?: string };
        throw new Error(`sieve of ${a.login} does not compile:\n${stdout ?? ""}${stderr ?? ""}`);
      }
    }
  }

  private async startDovecot(): Promise<void> {
    const dir = join(this.root, "dovecot");
    const runDir = join(this.root, "run");
    mkdirs(runDir);
    writeFileSync(this.dovecotConf, `
protocols = imap lmtp
listen = 127.0.0.1
base_dir = ${runDir}
state_dir = ${join(this.root, "state")}
log_path = ${this.dovecotLogFile}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# A failed LOGIN would otherwise delay its reply (auth_failure_delay) and, through anvil's
# per-address penalty, the next login by seconds; without its socket the penalty is off.
auth_failure_delay = 0
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
first_valid_uid = ${VMAIL}
# docker-mailserver's 10-mail.conf
mail_location = maildir:${this.mailRoot}/%d/%n
mail_home = ${this.mailRoot}/%d/%n/home/
namespace inbox {
  inbox = yes
}
# docker-mailserver's auth-passwdfile.inc
passdb {
  driver = passwd-file
  args = scheme=SHA512-CRYPT username_format=%u ${join(dir, "userdb")}
}
userdb {
  driver = passwd-file
  args = username_format=%u ${join(dir, "userdb")}
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${this.imapPort}
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  unix_listener lmtp {
    mode = 0660
    user = postfix
    group = postfix
  }
}
protocol lmtp {
  mail_plugins = $mail_plugins sieve
  postmaster_address = postmaster@harness.test
}
# docker-mailserver's 90-sieve.conf
plugin {
  sieve = file:~/sieve;active=~/.dovecot.sieve
}
`);
    await startDaemon(join(this.root, "dovecot.out"), "dovecot", ["-c", this.dovecotConf]);
    this.pidFiles.push(join(runDir, "master.pid"));
    await waitFor("Dovecot's LMTP socket", () => (existsSync(join(runDir, "lmtp")) ? true : undefined));
    await waitFor(`Dovecot IMAP on port ${this.imapPort}`, () => this.accepting(this.imapPort));
  }

  private async startPostfix(dms: DmsConfig): Promise<void> {
    const dir = join(this.root, "postfix");
    const queue = join(this.root, "spool");
    mkdirs(queue); // must exist and be root's; data_directory must NOT be pre-created
    // DMS `_create_postfix_vhost`: the domains of the accounts and of the alias sources.
    const aliasDomains = dms.virtual.split("\n").filter((l) => !/^\s*(#|$)/.test(l))
      .map((l) => l.trim().split(/\s+/)[0] ?? "").filter((s) => s.includes("@")).map((s) => s.split("@")[1]);
    const domains = [...new Set([...this.accounts.map((a) => a.domain), ...aliasDomains])];
    writeFileSync(join(dir, "vhost"), domains.map((d) => `${d}\n`).join(""));
    writeFileSync(join(dir, "vmailbox"), this.accounts.map((a) => `${a.login} ${a.domain}/${a.user}/\n`).join(""));
    writeFileSync(join(dir, "virtual"), dms.virtual);
    writeFileSync(join(dir, "main.cf"), `
compatibility_level = 3.6
queue_directory = ${queue}
data_directory = ${join(this.root, "postfix-data")}
maillog_file = ${this.postfixLogFile}
maillog_file_prefixes = ${this.root}
myhostname = mx.harness.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
smtputf8_enable = no
# docker-mailserver's main.cf
virtual_mailbox_domains = ${join(dir, "vhost")}
virtual_mailbox_maps = texthash:${join(dir, "vmailbox")}
virtual_alias_maps = texthash:${join(dir, "virtual")}
virtual_transport = lmtp:unix:${join(this.root, "run", "lmtp")}
`);
    // Every service unchrooted: the chroot would not contain the maps and sockets.
    writeFileSync(join(dir, "master.cf"), `
127.0.0.1:${this.smtpPort} inet n - n - - smtpd
pickup    unix  n - n 60   1 pickup
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
verify    unix  - - n -    1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -    - proxymap
smtp      unix  - - n -    - smtp
relay     unix  - - n -    - smtp
showq     unix  n - n -    - showq
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
lmtp      unix  - - n -    - lmtp
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
postlog   unix-dgram n - n - 1 postlogd
`);
    // Postfix waits out any config file or map younger than ~2 s (it could be mid-write): backdate.
    const past = new Date(Date.now() - 10_000);
    for (const file of readdirSync(dir)) utimesSync(join(dir, file), past, past);
    await startDaemon(join(this.root, "postfix.out"), "postfix", ["-c", dir, "start"]);
    this.pidFiles.push(join(queue, "pid", "master.pid"));
    await waitFor(`Postfix SMTP on port ${this.smtpPort}`, () => this.accepting(this.smtpPort));
  }

  private accepting(port: number): Promise<true | undefined> {
    return new Promise((resolve) => {
      const socket = createConnection({ host: "127.0.0.1", port });
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(undefined));
    });
  }

  /** Hands the message to Postfix over SMTP and waits until Postfix is done with it. */
  async deliver(envelope: Envelope, message: string): Promise<Delivery> {
    const queueId = await sendMail(this.smtpPort, envelope, message);
    await waitFor(`Postfix to finish ${queueId}`, () =>
      readIfExists(this.postfixLogFile).includes(` ${queueId}: removed`) ? true : undefined);
    const recipients = [...readIfExists(this.postfixLogFile).matchAll(
      new RegExp(` ${queueId}: to=<([^>]*)>,(?: orig_to=<([^>]*)>,)? .*status=(\\w+) (.*)$`, "gm"))]
      .map(([, to = "", origTo, status = "", detail = ""]) => ({ to, ...(origTo ? { origTo } : {}), status, detail }));
    return { queueId, recipients };
  }

  /** Waits for Dovecot's log line about the message and returns it (a discard leaves no other trace). */
  dovecotVerdict(messageId: string): Promise<string> {
    const marker = `msgid=${messageId}: `;
    return waitFor(`Dovecot's log line for ${messageId}`, () =>
      readIfExists(this.dovecotLogFile).split("\n").find((l) => l.includes(marker)));
  }

  /** `login:folder` of every stored copy of the message, across all accounts and folders. */
  locate(messageId: string): string[] {
    const found: string[] = [];
    for (const a of this.accounts) {
      const maildir = join(this.mailRoot, a.domain, a.user);
      if (!existsSync(maildir)) continue;
      const folders = [["INBOX", maildir], ...readdirSync(maildir).filter((n) => n.startsWith("."))
        .filter((n) => existsSync(join(maildir, n, "cur"))).map((n) => [n.slice(1), join(maildir, n)])];
      for (const [name, dir] of folders) {
        for (const sub of ["new", "cur"]) {
          const path = join(dir!, sub);
          if (!existsSync(path)) continue;
          for (const file of readdirSync(path)) {
            const head = readFileSync(join(path, file), "utf8").split(/\r?\n\r?\n/)[0] ?? "";
            if (new RegExp(`^Message-ID: ${escapeRegExp(messageId)}\\s*$`, "im").test(head)) found.push(`${a.login}:${name}`);
          }
        }
      }
    }
    return found;
  }

  /** Dovecot log lines reporting sieve problems (a failing script is skipped and the mail kept). */
  sieveProblems(): string[] {
    return readIfExists(this.dovecotLogFile).split("\n")
      .filter((l) => /Failed to compile|sieve: .*(error|failed)/i.test(l));
  }

  /** Stops both daemons by the pids in their pid files and removes everything. */
  async stop(): Promise<void> {
    for (const file of this.pidFiles) {
      const pid = Number(readIfExists(file).trim());
      if (!pid) continue;
      if (alive(pid)) process.kill(pid, "SIGTERM");
      await waitFor(`pid ${pid} (${file}) to exit`, () => (alive(pid) ? undefined : true));
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
