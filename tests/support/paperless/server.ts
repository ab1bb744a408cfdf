// A real paperless-ngx on loopback for the tests: the release source and venv that
// scripts/setup-paperless.sh installed, a copy of its migrated template database, users and API
// tokens made with manage.py, and `manage.py runserver`, optionally with a Celery worker. Everything
// runs through manage.sh, so the server, its worker, `manage()` and `mailFetcher()` share one
// environment.
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type PaperlessVersion = "3.0.5" | "2.20.15";
/** Both versions the project supports; suites run against each. */
export const PAPERLESS_VERSIONS: readonly PaperlessVersion[] = ["3.0.5", "2.20.15"];

export interface PaperlessUser {
  readonly id: number;
  readonly username: string;
  /** The user's own API token (a plain user: no model permissions). */
  readonly token: string;
}

export interface ManageResult {
  readonly stdout: string;
  readonly stderr: string;
}

export interface PaperlessServer {
  readonly version: PaperlessVersion;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** API token of the superuser `admin`. */
  readonly token: string;
  /** The users asked for, by username. */
  readonly users: Readonly<Record<string, PaperlessUser>>;
  /** The instance directory (data/, media/, server.log). */
  readonly dir: string;
  /** Runs manage.py as the server does (same environment and database); rejects on a non-zero exit. */
  manage(args: readonly string[]): Promise<ManageResult>;
  /** The real `manage.py mail_fetcher`, with Celery eager (tests/support/paperless/pmi_test_settings.py). */
  mailFetcher(): Promise<ManageResult>;
  /** The server's Celery worker, when started with `worker: true`. */
  readonly worker: Worker | undefined;
  /**
   * With the worker: one tick of paperless's scheduler (celery beat), which the test server does
   * not run: the entry `name` of paperless's own beat schedule is sent through the broker as beat
   * sends a due entry (its task with its options, the `trigger_source: scheduled` header
   * included), so paperless records it as a scheduled task. Resolves with the Celery task id.
   */
  schedulerTick(name: string): Promise<string>;
  /** The server's log so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Plain users to create besides the superuser `admin` (default: none). */
  readonly users?: readonly string[];
  /**
   * Run a Celery worker beside the server, the broker in files (default false). Tasks the server
   * queues (a fetch asked for with `POST /api/mail_accounts/{id}/process/`) then go through the
   * broker to the worker, and paperless records them as in production; without a worker, Celery
   * runs each task inside the request that queued it, and 3.x records no task for it.
   */
  readonly worker?: boolean;
  /**
   * With the worker, a real Redis (redis-server on a free loopback port) is its broker and the
   * server's Redis, as in production, instead of files (default false): /api/status/ then finds
   * Redis and pings the worker, as it does in production.
   */
  readonly redis?: boolean;
}

export interface Worker {
  /** Stops the worker (SIGTERM): queued tasks then wait, as with a dead worker in production. */
  stop(): Promise<void>;
  /** Starts it again (a no-op while it runs); resolves once it takes tasks. */
  start(): Promise<void>;
  /** The worker's log so far. */
  log(): string;
}

const ROOT = join(__dirname, "..", "..", "..");
const MANAGE_SH = join(__dirname, "manage.sh");
const SETUP = "bash scripts/setup-paperless.sh";
const READY_TIMEOUT_MS = 180_000;
const WORKER_READY_TIMEOUT_MS = 120_000;

/** The install dir of a version, from the setup script's own cache check; throws naming the setup command. */
export function paperlessInstallDir(version: PaperlessVersion): string {
  try {
    const out = execFileSync("bash", [join(ROOT, "scripts", "setup-paperless.sh"), "--check", version], {
      cwd: ROOT,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    return out.trim().split("\n").pop()!;
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr?.trim();
    throw new Error(`paperless-ngx ${version} is not installed (${stderr || String(e)}).\nInstall it once with: ${SETUP}`);
  }
}

/** How often a server whose port was taken before it bound it is started again on another. */
const PORT_ATTEMPTS = 3;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function run(install: string, instance: string, args: readonly string[], env: Record<string, string> = {}): Promise<ManageResult> {
  return new Promise((resolve, reject) => {
    execFile(
      "bash",
      [MANAGE_SH, install, instance, ...args],
      { env: { ...process.env, ...env }, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`manage.py ${args.join(" ")} failed (${err.message.split("\n")[0]}):\n${stderr.slice(-4000)}`));
        else resolve({ stdout, stderr });
      },
    );
  });
}

// Superuser `admin` and the plain users, each with an API token; one Django start-up for all.
const SEED_USERS = `
import json, os, secrets
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
admin = User.objects.create_superuser("admin", "admin@example.invalid", secrets.token_hex(16))
out = {"token": Token.objects.create(user=admin).key, "users": {}}
for name in json.loads(os.environ["PMI_USERS"]):
    u = User.objects.create_user(name, None, secrets.token_hex(16))
    out["users"][name] = {"id": u.id, "username": name, "token": Token.objects.create(user=u).key}
print("PMI_SEED " + json.dumps(out))
`;

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once("exit", () => resolve()));
}

async function waitReady(url: string, token: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let died = false;
  void exited(child).then(() => {
    died = true;
  });
  while (Date.now() < deadline) {
    if (died) throw new Error(`paperless-ngx exited before it answered:\n${log().slice(-4000)}`);
    try {
      const res = await fetch(`${url}/api/`, { headers: { Authorization: `Token ${token}` }, signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`paperless-ngx did not answer at ${url} within ${READY_TIMEOUT_MS / 1000} s:\n${log().slice(-4000)}`);
}

/** A Celery worker of the instance, logging to `<dir>/worker.log`; `env` names its broker. */
function celeryWorker(install: string, dir: string, env: Record<string, string>): Worker {
  const logFile = join(dir, "worker.log");
  const log = () => {
    try {
      return readFileSync(logFile, "utf8");
    } catch {
      return "";
    }
  };
  let child: ChildProcess | undefined;
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill("SIGTERM");
    const killer = setTimeout(() => c.kill("SIGKILL"), 10_000);
    await exited(c);
    clearTimeout(killer);
  };
  const start = async () => {
    if (child && child.exitCode === null && child.signalCode === null) return;
    const from = log().length;
    const fd = openSync(logFile, "a");
    // No mingle, gossip or heartbeat: they talk to other workers over broadcast, and there are none.
    const c = spawn(
      "bash",
      [MANAGE_SH, install, dir, "celery", "worker", "--loglevel", "INFO", "--without-mingle", "--without-gossip", "--without-heartbeat"],
      {
        stdio: ["ignore", fd, fd],
        env: { ...process.env, ...env },
      },
    );
    closeSync(fd);
    child = c;
    // Said in its log, so a test that finds tasks pending can tell a dead worker from a busy one.
    c.once("exit", (code, signal) => appendFileSync(logFile, `[test harness] the worker exited (code ${code}, signal ${signal})\n`));
    const deadline = Date.now() + WORKER_READY_TIMEOUT_MS;
    while (!/ ready\.?\s*$/m.test(log().slice(from))) {
      if (c.exitCode !== null || c.signalCode !== null)
        throw new Error(`the paperless Celery worker exited before it was ready:\n${log().slice(-4000)}`);
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`the paperless Celery worker was not ready within ${WORKER_READY_TIMEOUT_MS / 1000} s:\n${log().slice(-4000)}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  return { stop, start, log };
}

// What celery beat's Scheduler.apply_async does with a due entry, for the entry named in PMI_ENTRY.
const SCHEDULER_TICK = [
  "import os",
  "from django.conf import settings",
  "from paperless.celery import app",
  'entry = settings.CELERY_BEAT_SCHEDULE[os.environ["PMI_ENTRY"]]',
  'result = app.send_task(entry["task"], **entry.get("options", {}))',
  'print("PMI_TASK " + result.id)',
].join("\n");

/** redis-server on a free loopback port, in memory only; ready when it answers PING. */
async function startRedis(dir: string): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  const fd = openSync(join(dir, "redis.log"), "a");
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  let spawnError: Error | undefined;
  child.on("error", (e) => {
    spawnError = e;
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await exited(child);
    }
  };
  const pong = () =>
    new Promise<boolean>((resolve) => {
      const sock = connect(port, "127.0.0.1", () => sock.write("PING\r\n"));
      sock.once("data", (d) => {
        sock.destroy();
        resolve(d.toString().startsWith("+PONG"));
      });
      sock.once("error", () => resolve(false));
    });
  const deadline = Date.now() + 30_000;
  while (!(await pong())) {
    if (spawnError || child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(
        `redis-server did not answer on 127.0.0.1:${port}${spawnError ? ` (${spawnError.message}: install it with bash scripts/setup-paperless.sh)` : ""}:\n${readFileSync(join(dir, "redis.log"), "utf8").slice(-2000)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url: `redis://127.0.0.1:${port}`, stop };
}

/** Starts a paperless-ngx of `version` on a free loopback port, from a copy of the template database. */
export async function startPaperless(version: PaperlessVersion, opts: StartOptions = {}): Promise<PaperlessServer> {
  const install = paperlessInstallDir(version);
  const dir = mkdtempSync(join(tmpdir(), `paperless-${version}-`));
  mkdirSync(join(dir, "data"));
  copyFileSync(join(install, "template", "data", "db.sqlite3"), join(dir, "data", "db.sqlite3"));
  const logFile = join(dir, "server.log");
  const log = () => {
    try {
      return readFileSync(logFile, "utf8");
    } catch {
      return "";
    }
  };

  // The server and its worker share the broker; manage() and mailFetcher() keep Celery eager.
  const redis = opts.worker && opts.redis ? await startRedis(dir) : undefined;
  const brokerEnv: Record<string, string> = !opts.worker
    ? {}
    : redis
      ? { PMI_SETTINGS: "pmi_worker_settings", PAPERLESS_REDIS: redis.url }
      : { PMI_SETTINGS: "pmi_worker_settings", PMI_CELERY_BROKER_DIR: join(dir, "broker") };
  for (const d of opts.worker && !redis ? ["queue", "staging", "control", "results"] : [])
    mkdirSync(join(dir, "broker", d), { recursive: true });
  const worker = opts.worker ? celeryWorker(install, dir, brokerEnv) : undefined;
  // Users are made while the server starts: both take a Django start-up, and they share only the database.
  const seeding = run(install, dir, ["shell", "-c", SEED_USERS], { PMI_USERS: JSON.stringify(opts.users ?? []) });
  // A free port is only free until someone binds it: a suite starting the test cluster beside
  // paperless may take it between freePort() and runserver's bind, so a server that finds it
  // taken is started again on another one.
  let url = "";
  let child!: ChildProcess;
  let logFrom = 0;
  const serve = async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    logFrom = log().length;
    const fd = openSync(logFile, "a");
    child = spawn("bash", [MANAGE_SH, install, dir, "runserver", `127.0.0.1:${port}`, "--noreload"], {
      stdio: ["ignore", fd, fd],
      env: { ...process.env, ...brokerEnv },
    });
    closeSync(fd);
  };
  const ready = async (token: string) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await waitReady(url, token, child, log);
      } catch (e) {
        if (attempt >= PORT_ATTEMPTS || !log().slice(logFrom).includes("That port is already in use")) throw e;
        await serve();
      }
    }
  };
  await serve();
  const stop = async () => {
    await worker?.stop();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited(child);
      clearTimeout(killer);
    }
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const seeded = await seeding;
    const line = seeded.stdout.split("\n").find((l) => l.startsWith("PMI_SEED "));
    if (!line) throw new Error(`seeding users printed no result:\n${seeded.stdout}\n${seeded.stderr}`);
    const { token, users } = JSON.parse(line.slice("PMI_SEED ".length)) as { token: string; users: Record<string, PaperlessUser> };
    await Promise.all([ready(token), worker?.start()]);
    const manage = (args: readonly string[]) => run(install, dir, args);
    const schedulerTick = async (name: string) => {
      if (!worker) throw new Error("schedulerTick needs a paperless started with `worker: true`: without a broker nothing is scheduled");
      const out = await run(install, dir, ["shell", "-c", SCHEDULER_TICK], { ...brokerEnv, PMI_ENTRY: name });
      const line = out.stdout.split("\n").find((l) => l.startsWith("PMI_TASK "));
      if (!line) throw new Error(`the scheduler tick ${name} printed no task id:\n${out.stdout}\n${out.stderr}`);
      return line.slice("PMI_TASK ".length).trim();
    };
    return { version, url, token, users, dir, manage, mailFetcher: () => manage(["mail_fetcher"]), worker, schedulerTick, log, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
