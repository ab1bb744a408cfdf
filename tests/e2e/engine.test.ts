// The production sender list through the real Pulumi engine (preview, up, refresh, destroy) against
// a real paperless-ngx (3.0.5 and 2.20.15) on loopback, through the fault proxy; assertions are on
// the engine's reported steps, on the server's objects and on the stack's exported state. The tests
// of one version run in order on one stack, each starting from the state the previous one left.
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import * as pulumi from "@pulumi/pulumi";
import type { StackSettings } from "@pulumi/pulumi/automation";
import { PROJECT } from "../../core/types";
import { type Fault, startFaultProxy, type FaultProxy } from "../support/faultProxy";
import { admin, type Admin, type Row } from "../support/paperless/admin";
import { paperlessInTurn } from "../support/paperless/inTurn";
import { PAPERLESS_VERSIONS, type PaperlessServer } from "../support/paperless/server";
import { MAIL_TAG_USER_PERMISSIONS, userWithPermissions } from "../support/paperless/users";
import { PROD_STACK_FILE, prodUsers } from "../support/prodConfig";
import { engineStack, type EngineStack, shownErrors, STACK_TRACE_LINE, stepRecorder, transcript } from "./engine";
import { paperlessProgram } from "./program";

jest.setTimeout(300_000);

const PASSWORD = `e2e-mailbox-${randomBytes(12).toString("hex")}`;
const MAILBOX = "docs@viktorbarzin.me";

// Production's senders and owners (Pulumi.prod.yaml), under the names its hand-made rules have today (README: Migration).
const PROD_RULES = [
  { name: "forward: Viktor (me@)", filter_from: "me@viktorbarzin.me", owner: "root" },
  { name: "forward: Viktor (gmail)", filter_from: "vbarzin@gmail.com", owner: "root" },
  { name: "forward: Viktor (meta)", filter_from: "viktorbarzin@meta.com", owner: "root" },
  { name: "forward: Anca", filter_from: "ancaelena98@gmail.com", owner: "anca" },
  { name: "forward: Emo", filter_from: "emil.barzin@gmail.com", owner: "emo" },
];
const NEW_SENDER = { address: "new.person@example.org", user: "emo", label: "New" };

const DYNAMIC = "pulumi-nodejs:dynamic/paperless";
const DEFAULT_PROVIDER = "pulumi:providers:pulumi-nodejs::default";
// index.ts names a mailbox's components `<local part>-at-<domain>`.
const BOX = "docs-at-viktorbarzin.me";
const ruleResource = (address: string) => `${DYNAMIC}:PaperlessMailRule::${BOX}-rule-${address}`;
const ACCOUNT_RESOURCE = `${DYNAMIC}:PaperlessMailAccount::${BOX}-account`;
const TAG_RESOURCE = `${DYNAMIC}:PaperlessTag::${BOX}-tag-email-ingest`;
const PROD_RESOURCES = [
  "pulumi:pulumi:Stack::paperless-mail-ingest-e2e",
  `paperless-mail-ingest:paperless:PaperlessMailbox::${BOX}`,
  // The fetch after a change: its component only, as the E2E stack leaves fetchAfterChange off.
  "paperless-mail-ingest:paperless:MailFetchTrigger::paperless-fetch",
  ACCOUNT_RESOURCE,
  TAG_RESOURCE,
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

const filesUnder = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));

const byResource = (a: { resource: string }, b: { resource: string }) => a.resource.localeCompare(b.resource);
const creates = (resources: string[]) => resources.map((resource) => ({ op: "create", resource })).sort(byResource);
/** Steps of the paperless objects only: a config edit may also update the default provider. */
const paperlessSteps = (steps: { resource: string }[]) => steps.filter((s) => s.resource.startsWith(DYNAMIC));

const serverOf = paperlessInTurn({ users: prodUsers() });

describe.each(PAPERLESS_VERSIONS)("paperless-ngx %s", (version) => {
  let server: PaperlessServer;
  let proxy: FaultProxy;
  let api: Admin;
  let engine: EngineStack;
  let token: string;
  let before: string;

  /** The server's rules as a person reads them in the paperless UI. */
  async function serverRules() {
    const [rules, accounts, tags, users] = await Promise.all(
      ["/api/mail_rules/", "/api/mail_accounts/", "/api/tags/", "/api/users/"].map((c) => api.list<Row & { username?: string }>(c)),
    );
    const nameOf = (rows: Row[], id: unknown) => rows.find((r) => r.id === id)?.name;
    return rules!.map((r) => ({
      name: r.name,
      filter_from: r.filter_from,
      owner: users!.find((u) => u.id === r.owner)?.username,
      account: nameOf(accounts!, r.account),
      tags: (r.assign_tags as number[]).map((t) => nameOf(tags!, t)),
      action: r.action,
      action_parameter: r.action_parameter,
      folder: r.folder,
      order: r.order,
      filter_subject: r.filter_subject,
    }));
  }

  /** The stored password of a mail account (the API masks it: docs/paperless-api.md#writes). */
  async function storedPassword(name: string): Promise<string> {
    const { stdout } = await server.manage([
      "shell",
      "-c",
      `from paperless_mail.models import MailAccount; print("PW " + MailAccount.objects.get(name=${JSON.stringify(name)}).password)`,
    ]);
    return stdout
      .split("\n")
      .find((l) => l.startsWith("PW "))!
      .slice(3);
  }

  /** The production stack file, with paperless pointed at the proxy in front of the real server. */
  function e2eStackConfig(): Record<string, unknown> {
    const config = (parseYaml(readFileSync(PROD_STACK_FILE, "utf8")) as { config: Record<string, unknown> }).config;
    const paperless = config[`${PROJECT}:paperless`] as Record<string, unknown>;
    return { ...config, [`${PROJECT}:paperless`]: { ...paperless, url: proxy.url } };
  }

  async function editStackConfig(edit: (config: Record<string, unknown>) => void): Promise<void> {
    const ws = engine.stack.workspace;
    const settings: StackSettings = await ws.stackSettings(engine.stack.name);
    const config = { ...(settings.config ?? {}) } as Record<string, unknown>;
    edit(config);
    await ws.saveStackSettings(engine.stack.name, { ...settings, config });
  }
  const setToken = (value: string) => engine.stack.setConfig(`${PROJECT}:paperlessToken`, { value, secret: true });

  beforeAll(async () => {
    server = await serverOf(version);
    proxy = await startFaultProxy(server.url);
    api = admin(server);
    token = server.token;
    // Objects made by hand for another mailbox: the program must never touch them.
    const scanner = await api.post("/api/mail_accounts/", {
      name: "scanner@example.org",
      imap_server: "imap.example.org",
      username: "scanner",
      password: "scanner-password",
    });
    await api.post("/api/mail_rules/", { name: "scanner: everything", account: scanner.id, order: 5 });
    await api.post("/api/tags/", { name: "inbox" });
    before = await api.snapshot();

    engine = await engineStack("e2e", paperlessProgram);
    await editStackConfig((config) => Object.assign(config, e2eStackConfig()));
    await setToken(token);
    await engine.stack.setConfig(`${PROJECT}:mailboxPasswords["${MAILBOX}"]`, { value: PASSWORD, secret: true }, true);
  });

  afterAll(async () => {
    engine?.dispose();
    await proxy?.close();
    await server?.stop();
  });

  test("preview on the empty stack lists every resource to create, and changes nothing", async () => {
    const rec = stepRecorder();
    const preview = await engine.stack.preview({ onEvent: rec.onEvent });
    expect(rec.changes().sort(byResource)).toEqual(creates([...PROD_RESOURCES, DEFAULT_PROVIDER]));
    expect(preview.changeSummary).toEqual({ create: PROD_RESOURCES.length });
    expect(await api.snapshot()).toBe(before);
  });

  test("up creates exactly the declared state on the server", async () => {
    const rec = stepRecorder();
    const up = await engine.stack.up({ onEvent: rec.onEvent });
    expect(up.summary.result).toBe("succeeded");
    expect(up.summary.resourceChanges).toEqual({ create: PROD_RESOURCES.length });
    expect(placesHolding({ stdout: up.stdout, stderr: up.stderr }, [token, PASSWORD])).toEqual([]);

    const account = (await api.list("/api/mail_accounts/")).find((a) => a.name === MAILBOX);
    expect(account).toMatchObject({
      imap_server: "mailserver.mailserver.svc.cluster.local",
      imap_port: 993,
      imap_security: 2,
      username: MAILBOX,
    });
    expect(await storedPassword(MAILBOX)).toBe(PASSWORD);
    expect((await api.list("/api/tags/")).map((t) => t.name).sort()).toEqual(["email-ingest", "inbox"]);
    const rules = await serverRules();
    expect(
      rules
        .filter((r) => r.account === MAILBOX)
        .map(({ name, filter_from, owner }) => ({ name, filter_from, owner }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    ).toEqual([...PROD_RULES].sort((a, b) => a.name.localeCompare(b.name)));
    for (const r of rules.filter((x) => x.account === MAILBOX)) {
      expect(r).toMatchObject({ tags: ["email-ingest"], action: 2, action_parameter: "Processed", folder: "INBOX" });
    }
    // One default order for every sender (ruleOrderStart): removing one renumbers no other rule.
    expect(PROD_RULES.map((r) => rules.find((x) => x.filter_from === r.filter_from)!.order)).toEqual(PROD_RULES.map(() => 100));
    // The hand-made objects are untouched.
    expect(rules.filter((r) => r.account !== MAILBOX)).toEqual([
      expect.objectContaining({ name: "scanner: everything", account: "scanner@example.org" }),
    ]);
  });

  test("a second up reports no changes and writes nothing", async () => {
    proxy.reset();
    const rec = stepRecorder();
    const up = await engine.stack.up({ onEvent: rec.onEvent });
    expect(rec.changes()).toEqual([]);
    expect(Object.keys(up.summary.resourceChanges ?? {})).toEqual(["same"]);
    expect(proxy.writes()).toEqual([]);
  });

  test("adding a sender previews exactly one create, and up applies it", async () => {
    await editStackConfig((config) => {
      const [mailbox, ...rest] = config[`${PROJECT}:mailboxes`] as { senders: unknown[] }[];
      config[`${PROJECT}:mailboxes`] = [{ ...mailbox, senders: [...mailbox!.senders, NEW_SENDER] }, ...rest];
    });
    const expected = [{ op: "create", resource: ruleResource(NEW_SENDER.address) }];
    const preview = stepRecorder();
    const previewed = await engine.stack.preview({ onEvent: preview.onEvent });
    expect(paperlessSteps(preview.changes())).toEqual(expected);
    expect(previewed.changeSummary.create).toBe(1);

    proxy.reset();
    const up = stepRecorder();
    await engine.stack.up({ onEvent: up.onEvent });
    expect(paperlessSteps(up.changes())).toEqual(expected);
    // Posted under its unfinished name, then renamed (providers/paperless/provider.ts createOrAdopt).
    expect(proxy.writes().map((w) => `${w.method} ${w.path}`)).toEqual([
      "POST /api/mail_rules/",
      expect.stringMatching(/^PATCH \/api\/mail_rules\/\d+\/$/),
    ]);
    expect((await serverRules()).find((r) => r.filter_from === NEW_SENDER.address)).toMatchObject({
      name: "forward: New",
      owner: "emo",
      account: MAILBOX,
      tags: ["email-ingest"],
    });
  });

  test("a rule edited by hand shows as drift on refresh, and up restores it", async () => {
    const anca = (await api.list("/api/mail_rules/")).find((r) => r.filter_from === "ancaelena98@gmail.com")!;
    const declared = (await serverRules()).find((r) => r.name === anca.name);
    await api.request("PATCH", `/api/mail_rules/${anca.id}/`, {
      filter_from: "someone.else@example.net",
      owner: server.users.root!.id,
      filter_subject: "invoice",
    });

    const refresh = stepRecorder();
    await engine.stack.refresh({ onEvent: refresh.onEvent });
    expect(refresh.changes()).toEqual([
      { op: "update", resource: ruleResource("ancaelena98@gmail.com"), drift: ["filter_from", "filter_subject", "owner"] },
    ]);

    const preview = stepRecorder();
    await engine.stack.preview({ onEvent: preview.onEvent });
    expect(preview.changes()).toEqual([{ op: "update", resource: ruleResource("ancaelena98@gmail.com") }]);

    const up = stepRecorder();
    await engine.stack.up({ onEvent: up.onEvent });
    expect(up.changes()).toEqual([{ op: "update", resource: ruleResource("ancaelena98@gmail.com") }]);
    expect((await serverRules()).find((r) => r.name === anca.name)).toEqual(declared);
  });

  test("removing one of several senders previews and applies only its rule's delete: no other rule is renumbered", async () => {
    let mailboxes: unknown;
    await editStackConfig((config) => {
      mailboxes = config[`${PROJECT}:mailboxes`];
      const [mailbox, ...rest] = mailboxes as { senders: { address: string }[] }[];
      config[`${PROJECT}:mailboxes`] = [
        { ...mailbox, senders: mailbox!.senders.filter((s) => s.address !== "vbarzin@gmail.com") },
        ...rest,
      ];
    });
    const expected = [{ op: "delete", resource: ruleResource("vbarzin@gmail.com") }]; // the second of six
    const preview = stepRecorder();
    await engine.stack.preview({ onEvent: preview.onEvent });
    expect(paperlessSteps(preview.changes())).toEqual(expected);
    proxy.reset();
    const up = stepRecorder();
    await engine.stack.up({ onEvent: up.onEvent });
    expect(paperlessSteps(up.changes())).toEqual(expected);
    expect(proxy.writes().map((w) => `${w.method} ${w.path}`)).toEqual([expect.stringMatching(/^DELETE \/api\/mail_rules\/\d+\/$/)]);
    await editStackConfig((config) => {
      config[`${PROJECT}:mailboxes`] = mailboxes;
    }); // back, as the tests after this expect
    await engine.stack.up();
  });

  test("neither the API token nor the mailbox password is stored in clear, and the token is no resource's input", async () => {
    // `pulumi stack export` as a person runs it (the Automation API's exportStack adds --show-secrets).
    const state = JSON.parse(engine.cli("stack", "export")) as {
      deployment: { resources: { urn: string; type: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }[] };
    };
    expect(placesHolding(state, [token, PASSWORD])).toEqual([]);
    // The password is in the state, encrypted: the check above is not vacuous.
    const account = state.deployment.resources.find((r) => r.urn.endsWith(`::${BOX}-account`))!;
    expect(account.inputs?.password).toEqual({ [specialSigKey]: specialSecretSig, ciphertext: expect.any(String) });
    // The token is read at call time from the stack config, never kept in a resource (fix 2).
    for (const r of state.deployment.resources.filter((x) => x.type.startsWith(DYNAMIC))) {
      expect([r.urn, Object.keys(r.inputs ?? {}).includes("token"), Object.keys(r.outputs ?? {}).includes("token")]).toEqual([
        r.urn,
        false,
        false,
      ]);
    }
    // Nor anywhere else the engine wrote: backend (state, history, backups), stack file, plugin home.
    const leaks = filesUnder(engine.dir).filter((f) => {
      const text = readFileSync(f, "latin1");
      return text.includes(token) || text.includes(PASSWORD);
    });
    expect(leaks).toEqual([]);
  });

  test("a rejected token stops the preview with a readable message naming the fix, once, and without the token", async () => {
    await setToken("not-the-token-0123456789");
    try {
      const out = transcript();
      const failed = await engine.stack.preview({ diff: true, ...out.on }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(failed).toBeDefined();
      const text = String(failed!.message);
      expect(text).toContain("Invalid token");
      expect(text).toContain("pulumi config set --secret paperlessToken");
      expect(text).not.toContain("[object Object]");
      expect(text).not.toContain("not-the-token-0123456789");
      // Thrown by check: shown once, under its resource, with no stack trace (providers/dynamic/load.js).
      // (Each kind checks the token: the engine shows the error of one or more of them.)
      const onceEach = (shown: { error: string; times: number }[]) => {
        expect(shown.filter((e) => e.error.includes("Invalid token. (GET /api/ui_settings/ → 401)"))).not.toEqual([]);
        expect(shown.filter((e) => e.times !== 1)).toEqual([]);
      };
      onceEach(shownErrors(out.text()));
      expect(out.text()).not.toMatch(STACK_TRACE_LINE);
      // The default display echoes each error in its progress lines, then lists it in its Diagnostics section: once there.
      const plain = transcript();
      await expect(engine.stack.preview(plain.on)).rejects.toThrow();
      onceEach(shownErrors(plain.text().split("\nDiagnostics:\n")[1]!));
    } finally {
      await setToken(token);
    }
  });

  test("a non-superuser's token is refused by preview, up and refresh, naming its user; the state and the server are untouched", async () => {
    const clerk = await userWithPermissions(server, "clerk", MAIL_TAG_USER_PERMISSIONS);
    // What the state says of each paperless object (the engine may rewrite the file in another order).
    const paperlessState = async () =>
      JSON.stringify(
        ((await engine.stack.exportStack()).deployment.resources as Record<string, string>[])
          .filter((r) => r.type!.startsWith(DYNAMIC))
          .map(({ urn, id, inputs, outputs }) => ({ urn, id, inputs, outputs }))
          .sort((a, b) => a.urn!.localeCompare(b.urn!)),
      );
    const [stateBefore, serverBefore] = [await paperlessState(), await api.snapshot()];
    proxy.reset();
    await setToken(clerk.token);
    try {
      const refused =
        'the API token from the stack setting `paperless-mail-ingest:paperlessToken` belongs to paperless user "clerk", who is not a superuser';
      const failed = async (op: Promise<unknown>) =>
        String(
          await op.then(
            () => "succeeded",
            (e: Error) => e.message,
          ),
        );
      expect(await failed(engine.stack.preview())).toContain(refused);
      expect(await failed(engine.stack.up())).toContain(refused);
      expect(await failed(engine.stack.refresh({ runProgram: true }))).toContain(refused);
      expect(await failed(engine.stack.refresh())).toContain(refused);
    } finally {
      await setToken(token);
    }
    expect(proxy.writes()).toEqual([]);
    expect(await api.snapshot()).toBe(serverBefore);
    expect(await paperlessState()).toBe(stateBefore);
    // The saved configuration now holds the superuser's token again.
    expect((await engine.stack.up()).summary.result).toBe("succeeded");
  });

  test("a rule's check failure names the field and the closest user, never `{<nil>}` or the list of users", async () => {
    const saved = await engine.stack.workspace.stackSettings(engine.stack.name);
    await editStackConfig((config) => {
      const [mailbox, ...rest] = config[`${PROJECT}:mailboxes`] as { senders: { user: string }[] }[];
      config[`${PROJECT}:mailboxes`] = [
        { ...mailbox, senders: mailbox!.senders.map((x) => (x.user === "emo" ? { ...x, user: "emoo" } : x)) },
        ...rest,
      ];
    });
    try {
      const out = transcript();
      const failed = await engine.stack.preview({ diff: true, ...out.on }).then(
        () => "succeeded",
        (e: Error) => e.message,
      );
      expect(shownErrors(out.text()).filter((e) => e.times !== 1)).toEqual([]);
      // The engine reports the first of the two senders mapped to emo it checks.
      expect(failed).toMatch(
        new RegExp(
          `resource '${BOX}-rule-(emil\\.barzin@gmail\\.com|new\\.person@example\\.org)' has a problem: owner: paperless user "emoo" ` +
            `does not exist on ${proxy.url.replace(/\./g, "\\.")} \\(did you mean "emo"\\?\\); create the user in paperless-ngx or fix the sender's \`user\` in the stack config`,
        ),
      );
      expect(failed).not.toContain("<nil>");
      expect(failed).not.toMatch(/\badmin\b/);
    } finally {
      await engine.stack.workspace.saveStackSettings(engine.stack.name, saved);
    }
  });

  test("an error thrown by read (a refresh) or by delete (a sender removed) shows once, with no stack trace", async () => {
    /** The operation's output, from --diff, with the faults injected; then none left for the next test. */
    const failedOutput = async (faults: Fault[], op: (on: ReturnType<typeof transcript>["on"]) => Promise<unknown>) => {
      const out = transcript();
      proxy.reset();
      for (const f of faults) proxy.inject(f);
      try {
        await expect(op(out.on)).rejects.toThrow();
      } finally {
        proxy.reset();
      }
      expect(out.text()).not.toMatch(STACK_TRACE_LINE);
      return shownErrors(out.text());
    };
    const read = await failedOutput([{ kind: "status", status: 400, method: "GET", path: /^\/api\/mail_rules\//, times: 10 }], (on) =>
      engine.stack.preview({ refresh: true, diff: true, ...on }),
    );
    // Every rule's read fails, each with its own message (the engine may stop before it has shown all).
    expect(read.filter((e) => e.error.includes(": injected fault: 400 (GET /api/mail_rules/"))).not.toEqual([]);
    expect(read.filter((e) => e.times !== 1)).toEqual([]);

    const saved = await engine.stack.workspace.stackSettings(engine.stack.name);
    await editStackConfig((config) => {
      const [mailbox, ...rest] = config[`${PROJECT}:mailboxes`] as { senders: { address: string }[] }[];
      config[`${PROJECT}:mailboxes`] = [{ ...mailbox, senders: mailbox!.senders.filter((x) => x.address !== NEW_SENDER.address) }, ...rest];
    });
    try {
      const deleted = await failedOutput([{ kind: "status", status: 400, method: "DELETE", path: /^\/api\/mail_rules\/\d+\/$/ }], (on) =>
        engine.stack.up({ diff: true, ...on }),
      );
      expect(deleted.filter((e) => e.error.includes('mail rule "forward: New": injected fault: 400 (DELETE /api/mail_rules/'))).toEqual([
        { error: expect.any(String), times: 1 },
      ]);
      expect(deleted.filter((e) => e.times !== 1)).toEqual([]);
    } finally {
      await engine.stack.workspace.saveStackSettings(engine.stack.name, saved);
    }
  });

  test("after a token rotation, a plain refresh says which token it used and how to pass the new one, and that advice works", async () => {
    const { stdout } = await server.manage(["drf_create_token", "-r", "admin"]);
    token = /Generated token (\S+)/.exec(stdout)![1]!;
    api = admin(server, token);
    const refresh = (opts: { runProgram?: boolean } = {}) =>
      engine.stack.refresh(opts as Parameters<typeof engine.stack.refresh>[0]).then(
        () => "succeeded",
        (e: Error) => e.message,
      );
    const rejected =
      "the API token from the stack setting `paperless-mail-ingest:paperlessToken` was rejected. " +
      "Set a valid one with `pulumi config set --secret paperlessToken <token>`, then run `pulumi up`: until then `pulumi refresh` and " +
      "`pulumi destroy` use the token the last `up` saved (add `--run-program` to them to use the new one), and PAPERLESS_API_TOKEN is not read while the setting is there";
    expect(await refresh()).toContain(rejected);
    // What the message says holds: the environment is not read, and a plain refresh keeps the saved setting ...
    process.env.PAPERLESS_API_TOKEN = token;
    try {
      expect(await refresh()).toContain(rejected);
    } finally {
      delete process.env.PAPERLESS_API_TOKEN;
    }
    await setToken(token);
    expect(await refresh()).toContain(rejected);
    // ... and its way out works.
    expect(await refresh({ runProgram: true })).toBe("succeeded");
    expect((await engine.stack.up()).summary.result).toBe("succeeded");
    expect(await refresh()).toBe("succeeded");
  });

  test("a rotated token is no diff, and refresh, up and destroy work with it (the old one revoked)", async () => {
    const { stdout } = await server.manage(["drf_create_token", "-r", "admin"]);
    const rotated = /Generated token (\S+)/.exec(stdout)![1]!;
    expect(rotated).not.toBe(token);
    token = rotated;
    api = admin(server, token);
    await setToken(token);

    const preview = stepRecorder();
    await engine.stack.preview({ onEvent: preview.onEvent });
    expect(paperlessSteps(preview.changes())).toEqual([]);
    // refresh reads the stack config as it is now (it would otherwise reuse the old token the
    // default provider kept in the state).
    const refresh = stepRecorder();
    await engine.stack.refresh({ onEvent: refresh.onEvent, runProgram: true });
    expect(paperlessSteps(refresh.changes())).toEqual([]);
    proxy.reset();
    const up = stepRecorder();
    await engine.stack.up({ onEvent: up.onEvent });
    expect(paperlessSteps(up.changes())).toEqual([]);
    expect(proxy.writes()).toEqual([]);
    // After an up the state's provider holds the new token: a plain refresh works too.
    const plain = stepRecorder();
    await engine.stack.refresh({ onEvent: plain.onEvent });
    expect(paperlessSteps(plain.changes())).toEqual([]);
  });

  test("destroy leaves the server as it was before the first up", async () => {
    const rec = stepRecorder();
    const destroyed = await engine.stack.destroy({ onEvent: rec.onEvent });
    expect(destroyed.summary.resourceChanges).toEqual({ delete: PROD_RESOURCES.length + 1 });
    expect(await api.snapshot()).toBe(before);
    // Rules go before the account and the tag they name (deleting the account first would cascade).
    const position = (resource: string) => rec.steps.findIndex((s) => s.op === "delete" && s.resource === resource);
    const lastRule = Math.max(...[...PROD_RULES.map((r) => r.filter_from), NEW_SENDER.address].map((a) => position(ruleResource(a))));
    expect(lastRule).toBeGreaterThanOrEqual(0);
    expect(position(ACCOUNT_RESOURCE)).toBeGreaterThan(lastRule);
    expect(position(TAG_RESOURCE)).toBeGreaterThan(lastRule);
  });

  test("a rule create that lands and then answers 500 is found again: up succeeds with one rule per sender, tags set", async () => {
    proxy.reset();
    proxy.inject({ kind: "status", status: 500, landed: true, method: "POST", path: /^\/api\/mail_rules\/$/ });
    const up = await engine.stack.up();
    expect(up.summary.result).toBe("succeeded");
    expect(proxy.requests.filter((r) => r.fault)).toHaveLength(1);
    const ours = (await serverRules()).filter((r) => r.account === MAILBOX);
    expect(ours).toHaveLength(PROD_RULES.length + 1);
    for (const r of ours) expect(r.tags).toEqual(["email-ingest"]);
  });

  test("destroy keeps the ingest tag when documents carry it", async () => {
    const tag = (await api.list("/api/tags/")).find((t) => t.name === "email-ingest")!;
    const doc = await api.addDocument("invoice", [tag.id]);
    await engine.stack.destroy();
    const now = JSON.parse(await api.snapshot()) as { tags: Row[]; documents: Row[] };
    expect(now.tags.map((t) => t.name).sort()).toEqual(["email-ingest", "inbox"]);
    expect(now.documents.map((d) => [d.id, d.tags])).toEqual([[doc.id, [tag.id]]]);
  });

  test("destroy after the account was deleted by hand (its rules cascading) succeeds, and so does a second one", async () => {
    await engine.stack.up();
    const account = (await api.list("/api/mail_accounts/")).find((a) => a.name === MAILBOX)!;
    await api.request("DELETE", `/api/mail_accounts/${account.id}/`);
    const destroyed = await engine.stack.destroy();
    expect(destroyed.summary.result).toBe("succeeded");
    expect((await api.list("/api/mail_accounts/")).map((a) => a.name)).toEqual(["scanner@example.org"]);
    expect((await engine.stack.destroy()).summary.result).toBe("succeeded");
  });

  test("destroy leaves what the stack did not create: adopted objects handed back, the account kept for a rule added by hand; the output said so before and during", async () => {
    const hand = await api.post("/api/mail_accounts/", {
      name: MAILBOX,
      imap_server: "old.example",
      imap_port: 143,
      imap_security: 3,
      username: "docs",
      password: "hand-password",
    });
    const anca = await api.post("/api/mail_rules/", {
      name: "forward: Anca",
      account: hand.id,
      owner: server.users.anca!.id,
      filter_from: "ancaelena98@gmail.com",
      order: 7,
      filter_subject: "invoice",
      action: 2,
      action_parameter: "Processed",
    });
    const handBuilt = await api.snapshot();

    const up = await engine.stack.up();
    // The tag too: an earlier destroy kept it for the document that carries it.
    expect(up.outputs.keptAtDestroy!.value).toEqual({
      [MAILBOX]: [`mail account '${MAILBOX}' (adopted)`, "tag 'email-ingest' (adopted)", "mail rule 'forward: Anca' (adopted)"],
    });
    const theirs = await api.post("/api/mail_rules/", { name: "scanner: invoices", account: hand.id, filter_subject: "invoice" });
    // Before any destroy, what it will leave is in the stack's outputs: shown by every up, and on demand.
    // (A destroy's own preview shows no outputs and calls no provider.)
    expect(up.stdout).toContain(`"mail rule 'forward: Anca' (adopted)"`);
    expect(JSON.parse(engine.cli("stack", "output", "keptAtDestroy", "--json"))).toEqual(up.outputs.keptAtDestroy!.value);

    const destroyed = await engine.stack.destroy();
    expect(destroyed.summary.result).toBe("succeeded");
    expect(destroyed.stdout).toContain(
      `paperless-ngx: left mail rule "forward: Anca" (id ${anca.id}) on ${proxy.url} in place: this stack adopted it`,
    );
    expect(destroyed.stdout).toContain(
      `paperless-ngx: left mail account "${MAILBOX}" (id ${hand.id}) on ${proxy.url} in place: this stack adopted it`,
    );
    // As built by hand, plus the rule added since. Aside: the masked password (the stack set another),
    // and null against "" in a text (alike to paperless, so the stack keeps no such difference).
    const maskless = (snapshot: string) => snapshot.replace(/"password":"\**"/g, '"password":"*"').replace(/:""/g, ":null");
    const now = JSON.parse(maskless(await api.snapshot())) as { rules: Row[] };
    expect(now.rules.map((r) => r.id).sort()).toEqual([JSON.parse(before).rules[0].id, anca.id, theirs.id].sort());
    expect(JSON.stringify({ ...now, rules: now.rules.filter((r) => r.id !== theirs.id) })).toBe(maskless(handBuilt));
  });
});
