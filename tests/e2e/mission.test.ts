// The mission, end to end with nothing stood in: docker-mailserver's own start-up on real Postfix +
// Dovecot + Pigeonhole with the program's account line, self-alias and sieve; the paperless account
// and rules made by `pulumi up` through the real engine, which then has paperless fetch through its API
// (`fetchAfterChange`), run by paperless's own Celery worker. A forwarded mail with a .txt attachment from a
// listed sender becomes exactly one document owned by the mapped user, with no fetch run by hand.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { fromStackFile, validateStack } from "../../stack/stackConfig";
import { PROJECT } from "../../core/types";
import { forwardedMail } from "../support/mailserver/forwardedMail";
import { deployedMailserver } from "../support/mailserver/deployedMailserver";
import { waitFor, type Mailserver } from "../support/mailserver/mailserver";
import { newCredentials } from "../support/mailserver/programFiles";
import { admin, type Admin, type Row } from "../support/paperless/admin";
import { paperlessInTurn } from "../support/paperless/inTurn";
import { PAPERLESS_VERSIONS, type PaperlessServer } from "../support/paperless/server";
import { PROD_STACK_FILE, prodConfig, prodUsers } from "../support/prodConfig";
import { engineStack, type EngineStack } from "./engine";
import { paperlessProgram } from "./program";

jest.setTimeout(300_000);

const config = prodConfig();
const mailbox = config.mailboxes[0]!;
const ANCA = "ancaelena98@gmail.com";

const serverOf = paperlessInTurn({ users: prodUsers(), worker: true });

describe.each(PAPERLESS_VERSIONS)("paperless-ngx %s", (version) => {
  const credentials = newCredentials(config, () => randomBytes(18).toString("base64"));
  const password = credentials.get(mailbox.address)!.password;
  const root = mkdtempSync(join(tmpdir(), "mission-"));
  let mail: Mailserver;
  let server: PaperlessServer;
  let api: Admin;
  let engine: EngineStack;

  beforeAll(async () => {
    mail = await deployedMailserver(root, config, credentials);
    server = await serverOf(version);
    api = admin(server);

    engine = await engineStack("mission", paperlessProgram);
    const prod = (parseYaml(readFileSync(PROD_STACK_FILE, "utf8")) as { config: Record<string, Record<string, unknown>> }).config;
    const ws = engine.stack.workspace;
    const settings = await ws.stackSettings(engine.stack.name);
    await ws.saveStackSettings(engine.stack.name, {
      ...settings,
      config: {
        ...prod,
        [`${PROJECT}:paperless`]: { ...prod[`${PROJECT}:paperless`], url: server.url, fetchAfterChange: true },
        // Dovecot on loopback, plain IMAP (the test instance has no certificate).
        [`${PROJECT}:mailserver`]: {
          ...prod[`${PROJECT}:mailserver`],
          imapHost: "127.0.0.1",
          imapPort: mail.imapPort,
          imapSecurity: "none",
        },
      },
    });
    await engine.stack.setConfig(`${PROJECT}:paperlessToken`, { value: server.token, secret: true });
    await engine.stack.setConfig(`${PROJECT}:mailboxPasswords["${mailbox.address}"]`, { value: password, secret: true }, true);
  });
  afterAll(async () => {
    engine?.dispose();
    await server?.stop();
    await mail?.stop(0);
    rmSync(root, { recursive: true, force: true });
  });

  test("pulumi up makes the account and one rule per sender and has paperless fetch: a listed sender's mail becomes one document owned by its user", async () => {
    const anca = forwardedMail(ANCA, mailbox.address, "Bank statement November");
    const stranger = forwardedMail("mallory@evil.test", mailbox.address, "Invoice you must pay");
    for (const m of [anca, stranger]) {
      const delivery = await mail.deliver({ mailFrom: "bounces@forwarder.test", rcptTo: [mailbox.address] }, m.text);
      expect(delivery.recipients).toEqual([expect.objectContaining({ to: mailbox.address, status: "sent" })]);
    }
    expect(mail.locate(anca.id)).toEqual([`${mailbox.address}:INBOX`]);
    expect(mail.locate(stranger.id)).toEqual([]); // the sieve discarded it

    const up = await engine.stack.up();
    expect(up.summary.result).toBe("succeeded");
    expect((await api.list("/api/mail_rules/")).map((r) => r.filter_from).sort()).toEqual(mailbox.senders.map((s) => s.address).sort());
    // The fetch's progress, as the CLI shows it.
    expect(up.stdout).toContain(`paperless mail fetch: ${mailbox.accountName}: fetch requested`);

    const docs = async () =>
      (await api.list<Row & { title: string; tags: number[] }>("/api/documents/")).map((d) => ({
        title: d.title,
        owner: d.owner,
        tags: d.tags,
      }));
    const tag = (await api.list("/api/tags/")).find((t) => t.name === mailbox.tag)!;
    const expected = [{ title: "Bank statement November", owner: server.users.anca!.id, tags: [tag.id] }];
    if (version.startsWith("3.")) {
      // 3.x: up waited for the mail_fetch task and the consumption it queued.
      expect(up.stdout).toMatch(/paperless mail fetch: docs@viktorbarzin\.me: fetched \(mail_fetch task \d+\): 1 document\(s\) filed/);
      expect(await docs()).toEqual(expected);
    } else {
      // 2.x records no task for a fetch: up says so, and the worker files the mail afterwards.
      expect(up.stdout).toContain("records no task for a mail fetch (3.0 and later do), so its end is not confirmed");
      await waitFor("paperless's worker to file the mail", async () => ((await docs()).length ? true : undefined), 120_000);
      expect(await docs()).toEqual(expected);
    }
    await waitFor("the mail to move to Processed", () => (mail.locate(anca.id)[0]?.endsWith(":Processed") ? true : undefined), 60_000);
    // A second fetch files nothing again.
    await server.mailFetcher();
    expect(await api.list("/api/documents/")).toHaveLength(1);
  });

  test("overlapping senders (one address inside another) are refused by the stack's validation, naming both", async () => {
    // The validation the program runs first at every preview and up (stack/programConfig.ts):
    // run directly, since an inline program's throw would also surface as this process's error.
    const prod = (parseYaml(readFileSync(PROD_STACK_FILE, "utf8")) as { config: Record<string, unknown> }).config;
    const [box] = prod[`${PROJECT}:mailboxes`] as { senders: unknown[] }[];
    const senders = [...box!.senders, { address: "ann@gmail.com", user: "anca" }, { address: "joann@gmail.com", user: "emo" }];
    const { problems } = validateStack(fromStackFile({ ...prod, [`${PROJECT}:mailboxes`]: [{ ...box, senders }] }));
    expect(problems).toEqual([
      expect.stringMatching(
        /^mailboxes\[0\]\.senders\[6\]\.address: "joann@gmail\.com" contains mailboxes\[0\]\.senders\[5\]\.address "ann@gmail\.com": paperless matches a rule's filter_from as a substring/,
      ),
    ]);
  });
});
