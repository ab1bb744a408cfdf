// The real Pulumi CLI running the real index.ts from the project root, as a user runs it: the
// Node language host and the provider plugins from scripts/build-tools.sh on PATH, a file
// backend and passphrase in a throw-away directory, the stack file `Pulumi.<stack>.yaml` beside
// Pulumi.yaml (gitignored `Pulumi.e2e-*.yaml`, removed by dispose), secrets set with
// `pulumi config set --secret`. Every operation's engine events are read from `--event-log`.
import { execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { toolsBinDir } from "./tools";

const ROOT = join(__dirname, "..", "..");

/** One resource step: the op the engine took and the resource's `type::name`. */
export interface Step {
  readonly op: string;
  readonly resource: string;
  /** The changed properties the engine reported (diffs), when it names them. */
  readonly diffs?: readonly string[];
}

export interface Operation {
  readonly command: string;
  readonly ok: boolean;
  readonly stdout: string;
  readonly stderr: string;
  /** Every step with an op other than `same`, in the order the engine announced them. */
  readonly changes: readonly Step[];
  readonly steps: readonly Step[];
  /** Diagnostics of severity error the engine reported (what a user reads as the failure). */
  readonly errors: readonly string[];
}

export interface ProgramStack {
  readonly name: string;
  /** Backend, plugin home and event logs. */
  readonly dir: string;
  /** The stack file in the project directory. */
  readonly stackFile: string;
  /** Everything every command printed (stdout + stderr), for secret scans. */
  readonly transcript: string[];
  /** The environment every pulumi command runs with (backend, passphrase, PATH): what a user's shell has for this stack. */
  readonly env: Readonly<NodeJS.ProcessEnv>;
  /** Replace the stack file's plain config (keeps secrets set through `setSecret`). */
  setConfig(config: Record<string, unknown>): void;
  /** `pulumi config set --secret <key> <value>`; key in full (`paperless-mail-ingest:paperlessToken`). */
  setSecret(key: string, value: string): Promise<void>;
  preview(...args: string[]): Promise<Operation>;
  up(...args: string[]): Promise<Operation>;
  refresh(...args: string[]): Promise<Operation>;
  destroy(...args: string[]): Promise<Operation>;
  /**
   * `pulumi up` killed as a crash kills it: SIGKILL to its whole process group (the CLI, its
   * language host, provider plugins and their commands) as soon as `when` holds, polled every
   * 100 ms with the steps the engine has announced so far. Rejects if the up ends first.
   */
  upKilledWhen(when: (steps: readonly Step[]) => boolean | Promise<boolean>): Promise<Operation>;
  /** Any other CLI command on this stack (e.g. `stack export`); rejects on a non-zero exit. */
  cli(...args: string[]): Promise<string>;
  /**
   * Every later command runs the program of another project directory (this checkout after an
   * older release's, say), on the same backend and state; the stack file moves there.
   */
  moveToProject(dir: string): void;
  dispose(): Promise<void>;
}

export interface ProgramStackOptions {
  /** Directories put first on PATH (e.g. the test cluster's kubectl shim). */
  readonly path?: readonly string[];
  /** Extra environment of every pulumi command (VAULT_ADDR, …). */
  readonly env?: Readonly<Record<string, string>>;
  /** The project directory whose program runs (Pulumi.yaml, index.ts, build/); default this checkout. */
  readonly project?: string;
}

/**
 * The processes still running with this stack's PULUMI_HOME: the provider plugins and language host
 * a `pulumi up` killed by upKilledWhen left behind. The CLI starts each plugin in a process group of
 * its own, so the kill of the CLI's group does not reach them, and nothing else ends them.
 */
function processesOf(home: string): number[] {
  const entry = `PULUMI_HOME=${home}`;
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(entry);
      } catch {
        return false; // gone meanwhile, or not ours to read
      }
    })
    .map(Number);
}

/** `type::name` of a URN: urn:pulumi:<stack>::<project>::<parent types $ type>::<name>. */
function resourceOf(urn: string): string {
  const [, , types, ...name] = urn.split("::") as [string, string, string, ...string[]];
  return `${types.split("$").pop()}::${name.join("::")}`;
}

interface EngineEvent {
  resourcePreEvent?: { metadata: { op: string; urn: string; diffs?: string[] } };
  resOutputsEvent?: { metadata: { op: string; urn: string; diffs?: string[] } };
  diagnosticEvent?: { severity: string; message: string; urn?: string };
}

/** The events of a log; `partial`: of a run still writing (or killed mid-line), whose last line may be cut. */
function readEvents(file: string, partial = false): EngineEvent[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  const lines = text.split("\n");
  if (partial) lines.pop();
  return lines.filter((l) => l.trim()).map((l) => JSON.parse(l) as EngineEvent);
}

/**
 * The steps of one operation. A refresh announces every resource as `refresh` and reports the
 * outcome (`same`, `update` = drift, `delete` = gone) once read, so the last op of a URN counts.
 */
function stepsOf(events: readonly EngineEvent[]): Step[] {
  const byUrn = new Map<string, Step>();
  for (const e of events) {
    const meta = e.resOutputsEvent?.metadata ?? e.resourcePreEvent?.metadata;
    if (!meta || meta.urn.includes("::pulumi:pulumi:Stack::")) continue;
    const prior = byUrn.get(meta.urn);
    if (prior && meta.op === "refresh") continue;
    byUrn.set(meta.urn, { op: meta.op, resource: resourceOf(meta.urn), ...(meta.diffs?.length ? { diffs: meta.diffs } : {}) });
  }
  return [...byUrn.values()];
}

export async function programStack(name: string, opts: ProgramStackOptions = {}): Promise<ProgramStack> {
  if (!/^e2e-[a-z0-9-]+$/.test(name)) throw new Error(`stack name ${name} must match e2e-[a-z0-9-]+ (Pulumi.e2e-*.yaml is gitignored)`);
  const bin = toolsBinDir();
  const dir = mkdtempSync(join(tmpdir(), `pmi-${name}-`));
  for (const sub of ["backend", "home", "events"]) mkdirSync(join(dir, sub));
  let project = opts.project ?? ROOT;
  const stackFileIn = (dir: string) => join(dir, `Pulumi.${name}.yaml`);
  const transcript: string[] = [];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...opts.env,
    PULUMI_BACKEND_URL: `file://${join(dir, "backend")}`,
    PULUMI_HOME: join(dir, "home"),
    // A passphrase made per run: the stack file's secrets are encrypted with it.
    PULUMI_CONFIG_PASSPHRASE: `e2e-${Math.random().toString(36).slice(2)}`,
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_SKIP_CONFIRMATIONS: "true",
    // Enables --event-log (the engine's events as JSON lines, what the Automation API reads too).
    PULUMI_DEBUG_COMMANDS: "true",
    // index.ts is type-checked once by `npm test` (tsc --noEmit); the language host only transpiles.
    PULUMI_NODEJS_TRANSPILE_ONLY: "true",
    PATH: [...(opts.path ?? []), bin, process.env.PATH ?? ""].join(":"),
  };
  let events = 0;

  const run = (args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(
        join(bin, "pulumi"),
        [...args, "--stack", name, "--non-interactive"],
        { cwd: project, env, maxBuffer: 256 << 20 },
        (err, stdout, stderr) => {
          transcript.push(stdout, stderr);
          resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
        },
      );
    });

  const killedWhen = async (
    command: string,
    args: readonly string[],
    when: (steps: readonly Step[]) => boolean | Promise<boolean>,
  ): Promise<Operation> => {
    const log = join(dir, "events", `${++events}-${command}-killed.jsonl`);
    // Its own process group (detached), so one kill reaches every process of the run and nothing else.
    const child = spawn(join(bin, "pulumi"), [command, ...args, "--event-log", log, "--stack", name, "--non-interactive"], {
      cwd: project,
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    let ended: number | null | undefined;
    void exited.then((code) => (ended = code));
    for (;;) {
      if (ended !== undefined)
        throw new Error(`pulumi ${command} ended (exit ${ended}) before it was killed:\n${stdout.slice(-4000)}\n${stderr.slice(-2000)}`);
      if (await when(stepsOf(readEvents(log, true)))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    process.kill(-child.pid!, "SIGKILL");
    await exited;
    transcript.push(stdout, stderr);
    const steps = stepsOf(readEvents(log, true));
    return { command, ok: false, stdout, stderr, steps, changes: steps.filter((s) => s.op !== "same"), errors: [] };
  };

  const cli = async (...args: string[]): Promise<string> => {
    const r = await run(args);
    if (r.code !== 0)
      throw new Error(`pulumi ${args.join(" ")} failed (exit ${r.code}):\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
    return r.stdout;
  };

  const operation = async (command: string, args: readonly string[]): Promise<Operation> => {
    const log = join(dir, "events", `${++events}-${command}.jsonl`);
    const r = await run([command, ...args, "--event-log", log]);
    const all = readEvents(log);
    const steps = stepsOf(all);
    const errors = all.flatMap((e) => (e.diagnosticEvent?.severity === "error" ? [e.diagnosticEvent.message] : []));
    return { command, ok: r.code === 0, stdout: r.stdout, stderr: r.stderr, steps, changes: steps.filter((s) => s.op !== "same"), errors };
  };

  await cli("stack", "init");
  /** Full keys set with `pulumi config set --secret`: their encrypted values stay in the stack file. */
  const secretKeys = new Set<string>();
  const readStackFile = () =>
    parse(readFileSync(stackFileIn(project), "utf8")) as { config?: Record<string, unknown>; encryptionsalt?: string } | null;

  return {
    name,
    dir,
    transcript,
    env,
    get stackFile() {
      return stackFileIn(project);
    },
    setConfig(config) {
      const current = readStackFile() ?? {};
      const kept = Object.fromEntries(Object.entries(current.config ?? {}).filter(([k]) => secretKeys.has(k)));
      writeFileSync(
        stackFileIn(project),
        stringify({ ...(current.encryptionsalt ? { encryptionsalt: current.encryptionsalt } : {}), config: { ...config, ...kept } }),
      );
    },
    async setSecret(key, value) {
      secretKeys.add(key);
      await cli("config", "set", "--secret", key, value);
    },
    preview: (...args) => operation("preview", ["--diff", ...args]),
    up: (...args) => operation("up", ["--yes", "--diff", ...args]),
    refresh: (...args) => operation("refresh", ["--yes", ...args]),
    destroy: (...args) => operation("destroy", ["--yes", ...args]),
    upKilledWhen: (when) => killedWhen("up", ["--yes", "--diff"], when),
    cli,
    moveToProject(to) {
      renameSync(stackFileIn(project), stackFileIn(to));
      project = to;
    },
    async dispose() {
      for (const pid of processesOf(env.PULUMI_HOME!)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // ended by itself meanwhile
        }
      }
      await run(["stack", "rm", "--yes", "--force", "--preserve-config"]);
      rmSync(stackFileIn(project), { force: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
