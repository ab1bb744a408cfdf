// The real Pulumi engine (the CLI built by scripts/build-tools.sh) driven through the
// Automation API, with a local file backend in a throw-away directory.
//
// The program runs inline: the Automation API serves it from this process and the CLI reaches it
// with `--client`, so no Node language host binary is needed. Dynamic providers still run the way
// they do in production: a shim in the state (providers/dynamic/resource.ts), executed by
// `pulumi-resource-pulumi-nodejs`, a separate plugin process the engine starts in the workspace
// directory, from which the shim loads providers/dynamic/load.js. So the workspace links the
// project's providers/, as the directory of a real stack's Pulumi.yaml holds it.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parse as parseYaml } from "yaml";
import { type EngineEvent, LocalWorkspace, type OpType, type ProjectSettings, PulumiCommand, type Stack } from "@pulumi/pulumi/automation";
import type { PulumiFn } from "@pulumi/pulumi/automation";
import { fieldsOf } from "../support/packedFields";
import { toolsBinDir } from "../support/tools";

const ROOT = join(__dirname, "..", "..");
/**
 * The project's own Pulumi.yaml, so the CLI validates its config declarations as in production;
 * without `main`, which names the file entry point the inline program stands in for.
 */
export function projectSettings(): ProjectSettings {
  const settings = parseYaml(readFileSync(join(ROOT, "Pulumi.yaml"), "utf8")) as ProjectSettings;
  delete settings.main;
  return settings;
}

export interface EngineStack {
  readonly stack: Stack;
  /** Backend, workspace and plugin home: everything the engine wrote. */
  readonly dir: string;
  /** Runs the CLI on this stack as a person would (same backend, passphrase, workspace); returns stdout. */
  cli(...args: string[]): string;
  dispose(): void;
}

/**
 * A fresh stack of the project over a file backend, running `program` inline. `workDir` is the
 * workspace (where the engine runs plugins) when not the default, which links this project's providers/.
 */
export async function engineStack(stackName: string, program: PulumiFn, opts: { workDir?: string } = {}): Promise<EngineStack> {
  const bin = toolsBinDir();
  const dir = mkdtempSync(join(tmpdir(), "paperless-e2e-"));
  const workDir = opts.workDir ?? join(dir, "work");
  const envVars = {
    PULUMI_BACKEND_URL: `file://${join(dir, "backend")}`,
    PULUMI_HOME: join(dir, "home"),
    // A passphrase made per run: the stack file's secrets are encrypted with it.
    PULUMI_CONFIG_PASSPHRASE: `e2e-${Math.random().toString(36).slice(2)}`,
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_SKIP_CONFIRMATIONS: "true",
    // The engine finds pulumi-resource-pulumi-nodejs next to itself and on PATH; that launcher
    // resolves @pulumi/pulumi from its working directory (the temp workspace) or NODE_PATH.
    PATH: `${bin}:${process.env.PATH ?? ""}`,
    NODE_PATH: join(ROOT, "node_modules"),
  };
  for (const sub of [join(dir, "backend"), workDir]) mkdirSync(sub, { recursive: true });
  if (!opts.workDir) symlinkSync(join(ROOT, "providers"), join(workDir, "providers"));
  const dispose = () => rmSync(dir, { recursive: true, force: true });
  let stack: Stack;
  try {
    const pulumiCommand = await PulumiCommand.get({ root: dirname(bin) });
    const settings = projectSettings();
    stack = await LocalWorkspace.createStack(
      { stackName, projectName: settings.name, program },
      { workDir, pulumiCommand, envVars, projectSettings: settings },
    );
  } catch (e) {
    dispose();
    throw e;
  }
  const cli = (...args: string[]) =>
    execFileSync(join(bin, "pulumi"), [...args, "--stack", stackName], {
      cwd: workDir,
      env: { ...process.env, ...envVars },
      encoding: "utf8",
      maxBuffer: 64 << 20,
    });
  return { stack, dir, cli, dispose };
}

/** One resource step the engine reported: its op and the resource's `type::name`. */
export interface Step {
  op: OpType;
  resource: string;
  /** Refresh only: the outputs the read found different from the state (the drift). */
  drift?: string[];
}

/** `type::name` of a URN: urn:pulumi:<stack>::<project>::<parent types $ type>::<name>. */
function resourceOf(urn: string): string {
  const [, , types, ...name] = urn.split("::") as [string, string, string, ...string[]];
  return `${types.split("$").pop()}::${name.join("::")}`;
}

function changedKeys(
  type: string,
  packedOld: Record<string, unknown> | undefined,
  packedNow: Record<string, unknown> | undefined,
): string[] {
  if (!packedOld || !packedNow) return [];
  // A packed kind's fields, not its one `spec` string.
  const [old, now] = [fieldsOf(type, packedOld), fieldsOf(type, packedNow)];
  return [...new Set([...Object.keys(old), ...Object.keys(now)])].filter((k) => JSON.stringify(old[k]) !== JSON.stringify(now[k])).sort();
}

/**
 * Collects the steps of one operation from the engine's event stream. A refresh announces every
 * resource as `refresh` and reports the outcome (`same`, `update` = drift, `delete` = gone) after
 * reading it, so for refresh steps the outcome is what is recorded.
 */
export function stepRecorder(): { onEvent: (e: EngineEvent) => void; steps: Step[]; changes: () => Step[] } {
  const steps: Step[] = [];
  const seen = new Set<string>();
  const refreshed = new Set<string>();
  const onEvent = (e: EngineEvent) => {
    const meta = e.resourcePreEvent?.metadata ?? e.resOutputsEvent?.metadata;
    if (!meta || seen.has(meta.urn)) return;
    if (meta.op === "refresh") return void refreshed.add(meta.urn);
    seen.add(meta.urn);
    // A refresh's outcome names no diffs: compare the state before and after the read.
    const drift = refreshed.has(meta.urn) ? changedKeys(meta.type, meta.old?.outputs, meta.new?.outputs) : [];
    steps.push({ op: meta.op, resource: resourceOf(meta.urn), ...(drift.length ? { drift } : {}) });
  };
  return { onEvent, steps, changes: () => steps.filter((s) => s.op !== "same") };
}

/**
 * What a person reads of an operation: everything the CLI writes to stdout and stderr. Pass `on`
 * in the operation's options.
 */
export function transcript(): { on: { onOutput: (out: string) => void; onError: (err: string) => void }; text: () => string } {
  let text = "";
  const add = (chunk: string) => void (text += chunk);
  return { on: { onOutput: add, onError: add }, text: () => text };
}

/**
 * The errors an output shows (the text of its `error: …` lines), each with how often that text
 * appears in the whole output. For a `--diff` display, which prints each diagnostic once (the
 * default display echoes them in its progress lines before its Diagnostics section).
 */
export function shownErrors(text: string): { error: string; times: number }[] {
  const errors = new Set([...text.matchAll(/^\s*error: (.+)$/gm)].map((m) => m[1]!));
  return [...errors].map((error) => ({ error, times: text.split(error).length - 1 }));
}

/** A line of a JavaScript stack trace (`    at fn (file:line:column)`). */
export const STACK_TRACE_LINE = /^\s+at .*:\d+:\d+\)?$/m;
