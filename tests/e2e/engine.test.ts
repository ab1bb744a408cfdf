// The production sender list through the real Pulumi engine (preview, up, refresh, destroy) against
// the paperless emulator on loopback; assertions are on the engine's reported steps, on the
// emulator's state, and on the stack's exported state. The tests run in order on one stack, each
// starting from the state the previous one left.
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import * as pulumi from "@pulumi/pulumi";
import type { StackSettings } from "@pulumi/pulumi/automation";
import { PROJECT } from "../../core/types";
import { startPaperlessEmulator, type PaperlessEmulator } from "../paperless/paperlessEmulator";
import { PROD_STACK_FILE, prodUsers } from "../support/prodConfig";
import { engineStack, type EngineStack, stepRecorder } from "./engine";
import { paperlessProgram } from "./program";

jest.setTimeout(240_000);

const TOKEN = `e2e-token-${randomBytes(12).toString("hex")}`;
const PASSWORD = `e2e-mailbox-${randomBytes(12).toString("hex")}`;
const MAILBOX = "docs@viktorbarzin.me";

// Design §1: the sender -> owner map production must reproduce, and the rule names it has today.
const PROD_RULES = [
  { name: "forward: Viktor (me@)", filter_from: "me@viktorbarzin.me", owner: "root" },
  { name: "forward: Viktor (gmail)", filter_from: "vbarzin@gmail.com", owner: "root" },
  { name: "forward: Viktor (meta)", filter_from: "viktorbarzin@meta.com", owner: "root" },
  { name: "forward: Anca", filter_from: "ancaelena98@gmail.com", owner: "anca" },
  { name: "forward: Emo", filter_from: "emil.barzin@gmail.com", owner: "emo" },
];
const NEW_SENDER = { address: "new.person@example.org", user: "emo", label: "New" };

const DYNAMIC = "pulumi-nodejs:dynamic/paperless-mail-ingest/paperless";
const DEFAULT_PROVIDER = "pulumi:providers:pulumi-nodejs::default";
// index.ts names a mailbox's components `<local part>-at-<domain>`.
const BOX = "docs-at-viktorbarzin.me";
const ruleResource = (address: string) => `${DYNAMIC}:PaperlessMailRule::${BOX}-rule-${address}`;
const PROD_RESOURCES = [
  "pulumi:pulumi:Stack::paperless-mail-ingest-e2e",
  `paperless-mail-ingest:paperless:PaperlessMailbox::${BOX}`,
  `${DYNAMIC}:PaperlessMailAccount::${BOX}-account`,
  `${DYNAMIC}:PaperlessTag::${BOX}-tag-email-ingest`,
  ...PROD_RULES.map((r) => ruleResource(r.filter_from)),
];

// Pulumi's marker of a secret value in state.
const { specialSigKey, specialSecretSig } = pulumi.runtime;

/** JSON paths of the strings in `value` that contain any of `secrets`. */
function placesHolding(value: unknown, secrets: string[], path = "$"): string[] {
  if (typeof value === "string") return secrets.some((x) => value.includes(x)) ? [path] : [];
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([k, v]) => placesHolding(v, secrets, `${path}.${k}`));
}

const filesUnder = (dir: string): string[] => readdirSync(dir, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));

let emu: PaperlessEmulator;
let engine: EngineStack;
let before: string;

/** Everything a destroy must give back: every object the server holds, passwords included. */
function serverState(): string {
  return JSON.stringify({ users: emu.users, accounts: emu.accounts, rules: emu.rules, tags: emu.tags,
    documents: emu.documents, passwords: [...emu.passwords] });
}

/** The server's rules as a person reads them in the paperless UI. */
function serverRules() {
  const name = <T extends { id: number }>(rows: T[], id: unknown, key: keyof T) => rows.find((r) => r.id === id)?.[key];
  return emu.rules.map((r) => ({
    name: r.name as string, filter_from: r.filter_from, owner: name(emu.users, r.owner, "username"),
    account: name(emu.accounts, r.account, "name"), tags: (r.assign_tags as number[]).map((t) => name(emu.tags, t, "name")),
    action: r.action, action_parameter: r.action_parameter, folder: r.folder, order: r.order,
  }));
}

/** The production stack file, with paperless pointed at the emulator. */
function e2eStackConfig(): Record<string, unknown> {
  const config = (parseYaml(readFileSync(PROD_STACK_FILE, "utf8")) as { config: Record<string, unknown> }).config;
  const paperless = config[`${PROJECT}:paperless`] as Record<string, unknown>;
  return { ...config, [`${PROJECT}:paperless`]: { ...paperless, url: emu.url } };
}

async function editStackConfig(edit: (config: Record<string, unknown>) => void): Promise<void> {
  const ws = engine.stack.workspace;
  const settings: StackSettings = await ws.stackSettings(engine.stack.name);
  const config = { ...(settings.config ?? {}) } as Record<string, unknown>;
  edit(config);
  await ws.saveStackSettings(engine.stack.name, { ...settings, config: config as StackSettings["config"] });
}

beforeAll(async () => {
  emu = await startPaperlessEmulator({ token: TOKEN, users: prodUsers() });
  // Objects made by hand for another mailbox: the program must never touch them.
  const scanner = emu.addAccount({ name: "scanner@example.org", password: "scanner-password" });
  emu.addRule({ name: "scanner: everything", account: scanner.id, order: 5 });
  emu.addTag("inbox");
  before = serverState();

  engine = await engineStack("e2e", paperlessProgram);
  await editStackConfig((config) => Object.assign(config, e2eStackConfig()));
  await engine.stack.setConfig(`${PROJECT}:paperlessToken`, { value: TOKEN, secret: true });
  await engine.stack.setConfig(`${PROJECT}:mailboxPasswords["${MAILBOX}"]`, { value: PASSWORD, secret: true }, true);
});

afterAll(async () => {
  engine?.dispose();
  await emu?.close();
});

const byResource = (a: { resource: string }, b: { resource: string }) => a.resource.localeCompare(b.resource);
const creates = (resources: string[]) => resources.map((resource) => ({ op: "create", resource })).sort(byResource);

test("preview on the empty stack lists every resource to create, and changes nothing", async () => {
  const rec = stepRecorder();
  const preview = await engine.stack.preview({ onEvent: rec.onEvent });
  expect(rec.changes().sort(byResource)).toEqual(creates([...PROD_RESOURCES, DEFAULT_PROVIDER]));
  expect(preview.changeSummary).toEqual({ create: PROD_RESOURCES.length });
  expect(serverState()).toBe(before);
});

test("up creates exactly the declared state on the server", async () => {
  const rec = stepRecorder();
  const up = await engine.stack.up({ onEvent: rec.onEvent });
  expect(up.summary.result).toBe("succeeded");
  expect(up.summary.resourceChanges).toEqual({ create: PROD_RESOURCES.length });
  expect(placesHolding({ stdout: up.stdout, stderr: up.stderr }, [TOKEN, PASSWORD])).toEqual([]);

  const account = emu.accounts.find((a) => a.name === MAILBOX);
  expect(account).toMatchObject({ imap_server: "mailserver.mailserver.svc.cluster.local", imap_port: 993,
    imap_security: 2, username: MAILBOX, owner: emu.user("admin").id });
  expect(emu.passwords.get(account!.id)).toBe(PASSWORD);
  expect(emu.tags.map((t) => t.name)).toEqual(["inbox", "email-ingest"]);
  const rules = serverRules();
  expect(rules.filter((r) => r.account === MAILBOX).map(({ name, filter_from, owner }) => ({ name, filter_from, owner }))
    .sort((a, b) => a.name.localeCompare(b.name)))
    .toEqual([...PROD_RULES].sort((a, b) => a.name.localeCompare(b.name)));
  for (const r of rules.filter((x) => x.account === MAILBOX)) {
    expect(r).toMatchObject({ tags: ["email-ingest"], action: 2, action_parameter: "Processed", folder: "INBOX" });
  }
  // Rules run in the order of the sender list.
  const order = (address: string) => rules.find((r) => r.filter_from === address)!.order as number;
  const orders = PROD_RULES.map((r) => order(r.filter_from));
  expect(orders).toEqual([...orders].sort((a, b) => a - b));
  expect(new Set(orders).size).toBe(orders.length);
  // The hand-made objects are untouched.
  expect(rules.filter((r) => r.account !== MAILBOX)).toEqual([expect.objectContaining({ name: "scanner: everything", account: "scanner@example.org" })]);
  expect(emu.accounts.map((a) => a.name).sort()).toEqual([MAILBOX, "scanner@example.org"].sort());
});

test("a second up reports no changes and writes nothing", async () => {
  emu.resetCounters();
  const rec = stepRecorder();
  const up = await engine.stack.up({ onEvent: rec.onEvent });
  expect(rec.changes()).toEqual([]);
  expect(Object.keys(up.summary.resourceChanges ?? {})).toEqual(["same"]);
  expect(emu.writes).toEqual([]);
});

test("adding a sender previews exactly one create, and up applies it", async () => {
  await editStackConfig((config) => {
    const [mailbox, ...rest] = config[`${PROJECT}:mailboxes`] as { senders: unknown[] }[];
    config[`${PROJECT}:mailboxes`] = [{ ...mailbox, senders: [...mailbox!.senders, NEW_SENDER] }, ...rest];
  });
  // The dynamic provider's inputs are the stack config, so any config edit also updates the
  // default provider itself; that step touches no paperless object.
  const expected = [
    { op: "update", resource: DEFAULT_PROVIDER },
    { op: "create", resource: ruleResource(NEW_SENDER.address) },
  ];
  const preview = stepRecorder();
  const previewed = await engine.stack.preview({ onEvent: preview.onEvent });
  expect(preview.changes()).toEqual(expected);
  expect(previewed.changeSummary.create).toBe(1);

  emu.resetCounters();
  const up = stepRecorder();
  await engine.stack.up({ onEvent: up.onEvent });
  expect(up.changes()).toEqual(expected);
  expect(emu.writes.map((w) => `${w.method} ${w.path}`)).toEqual(["POST /api/mail_rules/"]);
  expect(serverRules().find((r) => r.filter_from === NEW_SENDER.address))
    .toMatchObject({ name: "forward: New", owner: "emo", account: MAILBOX, tags: ["email-ingest"] });
});

test("a rule edited by hand shows as drift on refresh, and up restores it", async () => {
  const anca = emu.rules.find((r) => r.filter_from === "ancaelena98@gmail.com")!;
  const declared = serverRules().find((r) => r.name === anca.name);
  anca.filter_from = "someone.else@example.net";
  anca.owner = emu.user("root").id;

  const refresh = stepRecorder();
  await engine.stack.refresh({ onEvent: refresh.onEvent });
  expect(refresh.changes()).toEqual([{ op: "update", resource: ruleResource("ancaelena98@gmail.com"), drift: ["filter_from", "owner"] }]);

  const preview = stepRecorder();
  await engine.stack.preview({ onEvent: preview.onEvent });
  expect(preview.changes()).toEqual([{ op: "update", resource: ruleResource("ancaelena98@gmail.com") }]);

  const up = stepRecorder();
  await engine.stack.up({ onEvent: up.onEvent });
  expect(up.changes()).toEqual([{ op: "update", resource: ruleResource("ancaelena98@gmail.com") }]);
  expect(serverRules().find((r) => r.name === anca.name)).toEqual(declared);
});

test("neither the API token nor the mailbox password is stored in clear", async () => {
  // `pulumi stack export` as a person runs it (the Automation API's exportStack adds --show-secrets).
  const state = JSON.parse(engine.cli("stack", "export")) as { deployment: { resources: { urn: string; inputs?: Record<string, unknown> }[] } };
  expect(placesHolding(state, [TOKEN, PASSWORD])).toEqual([]);
  // They are in the state, encrypted: the check above is not vacuous.
  const account = state.deployment.resources.find((r) => r.urn.endsWith(`::${BOX}-account`))!;
  for (const key of ["token", "password"]) {
    expect(account.inputs?.[key]).toEqual({ [specialSigKey]: specialSecretSig, ciphertext: expect.any(String) });
  }
  // Nor anywhere else the engine wrote: backend (state, history, backups), stack file, plugin home.
  const leaks = filesUnder(engine.dir).filter((f) => {
    const text = readFileSync(f, "latin1");
    return text.includes(TOKEN) || text.includes(PASSWORD);
  });
  expect(leaks).toEqual([]);
});

test("destroy leaves the server as it was before the first up", async () => {
  const rec = stepRecorder();
  const destroyed = await engine.stack.destroy({ onEvent: rec.onEvent });
  expect(destroyed.summary.resourceChanges).toEqual({ delete: PROD_RESOURCES.length + 1 });
  expect(serverState()).toBe(before);
  // Rules go before the account and the tag they name (deleting the account first would cascade).
  const position = (resource: string) => rec.steps.findIndex((s) => s.op === "delete" && s.resource === resource);
  const lastRule = Math.max(...[...PROD_RULES.map((r) => r.filter_from), NEW_SENDER.address].map((a) => position(ruleResource(a))));
  expect(lastRule).toBeGreaterThanOrEqual(0);
  expect(position(`${DYNAMIC}:PaperlessMailAccount::${BOX}-account`)).toBeGreaterThan(lastRule);
  expect(position(`${DYNAMIC}:PaperlessTag::${BOX}-tag-email-ingest`)).toBeGreaterThan(lastRule);
});

test("destroy keeps the ingest tag when documents carry it", async () => {
  await engine.stack.up();
  const tag = emu.tags.find((t) => t.name === "email-ingest")!;
  const doc = emu.addDocument("invoice.pdf", [tag.id]);
  await engine.stack.destroy();
  expect(JSON.parse(serverState())).toEqual({ ...JSON.parse(before), tags: [...JSON.parse(before).tags, tag], documents: [doc] });
});
