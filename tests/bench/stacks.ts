// The two stacks `npm run bench` compares through the real engine (tests/e2e/engine.ts):
//   floor  N dynamic resources whose provider does nothing: what the engine itself costs for N
//          resources (every step, plugin call and state rewrite), with nothing of ours in it;
//   ours   the paperless half of the program (tests/e2e/program.ts: one PaperlessMailbox, its
//          account, tag and one rule per sender) over N senders, against a real paperless-ngx.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { PulumiFn } from "@pulumi/pulumi/automation";
import { parse as parseYaml } from "yaml";
import { PROJECT } from "../../core/types";
import { engineStack, type EngineStack } from "../e2e/engine";
import { paperlessProgram } from "../e2e/program";
import { PROD_STACK_FILE } from "../support/prodConfig";

/** A provider that does nothing: create answers an id, everything else is the engine's default. */
const nothing: pulumi.dynamic.ResourceProvider = {
  async create() {
    return { id: "floor" };
  },
};

export const FLOOR_TYPE = "pulumi-nodejs:dynamic/bench:Floor";

class FloorResource extends pulumi.dynamic.Resource {
  constructor(name: string) {
    super(nothing, name, {}, {}, "bench", "Floor");
  }
}

export function floorProgram(n: number): PulumiFn {
  return async () => {
    for (let i = 1; i <= n; i++) new FloorResource(`floor-${String(i).padStart(4, "0")}`);
  };
}

/** The CLI requires the project's declared config keys before it runs any program: the prod stack's. */
function prodStackConfig(): Record<string, unknown> {
  return (parseYaml(readFileSync(PROD_STACK_FILE, "utf8")) as { config: Record<string, unknown> }).config;
}

export async function floorStack(n: number): Promise<EngineStack> {
  const engine = await engineStack(`floor-${n}`, floorProgram(n));
  await engine.stack.workspace.saveStackSettings(engine.stack.name, { config: prodStackConfig() });
  return engine;
}

export interface PaperlessTarget {
  /** Where the providers send their requests (the counting proxy in front of the server). */
  readonly url: string;
  readonly token: string;
}

/** The paperless half over `stackRaw` (the stack's `paperless-mail-ingest:*` config without prefix). */
export async function paperlessStack(
  n: number,
  stackRaw: Record<string, unknown>,
  target: PaperlessTarget,
  password: string,
): Promise<EngineStack> {
  const engine = await engineStack(`ours-${n}`, paperlessProgram);
  const config = Object.fromEntries(Object.entries(stackRaw).map(([k, v]) => [`${PROJECT}:${k}`, v]));
  const paperless = config[`${PROJECT}:paperless`] as Record<string, unknown>;
  config[`${PROJECT}:paperless`] = { ...paperless, url: target.url };
  await engine.stack.workspace.saveStackSettings(engine.stack.name, { config });
  await engine.stack.setConfig(`${PROJECT}:paperlessToken`, { value: target.token, secret: true });
  const mailboxes = stackRaw.mailboxes as { address: string }[];
  for (const m of mailboxes) {
    await engine.stack.setConfig(`${PROJECT}:mailboxPasswords["${m.address}"]`, { value: password, secret: true }, true);
  }
  return engine;
}

/**
 * The size of the stack's checkpoint in the file backend (the state the engine rewrites after every
 * step), and the mean size of its resources of `perSenderType` (one per sender).
 */
export function stateBytes(engine: EngineStack, perSenderType: string): { total: number; perSender: number } {
  const stacks = join(engine.dir, "backend", ".pulumi", "stacks");
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
  const file = walk(stacks).find((f) => f.endsWith(`/${engine.stack.name}.json`));
  if (!file) throw new Error(`no checkpoint of stack ${engine.stack.name} under ${stacks}`);
  const text = readFileSync(file, "utf8");
  const resources = (JSON.parse(text) as { checkpoint: { latest: { resources: { type: string }[] } } }).checkpoint.latest.resources.filter(
    (r) => r.type === perSenderType,
  );
  if (!resources.length) throw new Error(`checkpoint of stack ${engine.stack.name} has no ${perSenderType}`);
  // As the file stores them (the engine writes the checkpoint indented by 4).
  const perSender = resources.reduce((sum, r) => sum + JSON.stringify(r, null, 4).length, 0) / resources.length;
  return { total: statSync(file).size, perSender };
}
