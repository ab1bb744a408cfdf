// The offline render as a user runs it: a subprocess, real files, real sieve-test on the output.
import { spawnSync } from "child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { parse } from "yaml";
import { selfAliasLine } from "../../core/aliasLine";
import { markers } from "../../core/ownedLines";
import { sieveDeploymentPatch, sieveMount } from "../../core/sieveMount";
import { loadStackFile } from "../../core/stackConfig";
import { PROD_STACK_FILE } from "../support/prodConfig";
import { SieveRunner } from "../sieve/sieveTest";

const ROOT = join(__dirname, "..", "..");
const TSX = join(ROOT, "node_modules", ".bin", "tsx");
const TWO_MAILBOXES = join(__dirname, "..", "fixtures", "stacks", "Pulumi.two-mailboxes.yaml");

function render(...args: string[]) {
  // A render that spins (as it once did on /proc) fails here instead of hanging the suite.
  return spawnSync(TSX, [join(ROOT, "scripts", "render.ts"), ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
}

const read = (dir: string, name: string) => readFileSync(join(dir, name), "utf8");

describe("npm run render", () => {
  it("renders the production stack: a sieve that keeps the five senders and drops everyone else, and the plan", () => {
    const out = join(mkdtempSync(join(tmpdir(), "render-")), "out");
    const run = render("--config", PROD_STACK_FILE, "--out", out);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["docs@viktorbarzin.me.dovecot.sieve", "mailserver", "paperless-plan.json", "vault-policy.hcl"]);
    // The deploying token's policy, for the stack's mount and prefix (what the README says to apply).
    expect(read(out, "vault-policy.hcl")).toContain('path "secret/data/paperless-mail-ingest/*" {');
    expect(read(out, "vault-policy.hcl")).toContain('path "auth/token/create" {');
    expect(run.stdout).toContain("rendered 1 mailbox(es), 5 sender(s)");

    const runner = new SieveRunner(read(out, "docs@viktorbarzin.me.dovecot.sieve"));
    try {
      const plan = JSON.parse(read(out, "paperless-plan.json"));
      const senders: string[] = plan.mailboxes[0].rules.map((r: { filter_from: string }) => r.filter_from);
      expect(senders).toHaveLength(5);
      const mail = (from: string) => `From: ${from}\r\nTo: docs@viktorbarzin.me\r\nSubject: s\r\n\r\nb\r\n`;
      for (const sender of senders) expect(runner.outcome(mail(sender))).toBe("keep");
      for (const stranger of ["mallory@evil.test", "me@viktorbarzin.me.evil.test", "root@viktorbarzin.me"]) {
        expect(runner.outcome(mail(stranger))).toBe("discard");
      }
      expect(plan.mailboxes[0].rules.map((r: { name: string; owner: string }) => `${r.name}=${r.owner}`)).toEqual([
        "forward: Viktor (me@)=root", "forward: Viktor (gmail)=root", "forward: Viktor (meta)=root",
        "forward: Anca=anca", "forward: Emo=emo",
      ]);
    } finally {
      runner.close();
    }
  });

  it("names every enum value of the plan beside paperless's integer", () => {
    const out = join(mkdtempSync(join(tmpdir(), "render-")), "out");
    expect(render("--config", PROD_STACK_FILE, "--out", out).status).toBe(0);
    const { account, rules: [rule] } = JSON.parse(read(out, "paperless-plan.json")).mailboxes[0];
    expect(account).toEqual(expect.objectContaining({ imap_security: 2, imap_security_name: "ssl", account_type: 1, account_type_name: "imap" }));
    expect(rule).toEqual(expect.objectContaining({
      action: 2, action_name: "move",
      assign_title_from: 1, assign_title_from_name: "from_subject",
      attachment_type: 1, attachment_type_name: "attachments_only",
      consumption_scope: 1, consumption_scope_name: "attachments_only",
    }));
    // The name follows its value, so the file reads in order.
    const keys = Object.keys(rule);
    expect(keys.indexOf("action_name")).toBe(keys.indexOf("action") + 1);
  });

  it("renders the mailserver side that needs no secret: alias blocks, the Deployment patch, one sieve ConfigMap per mailbox", () => {
    const config = loadStackFile(TWO_MAILBOXES);
    const out = join(mkdtempSync(join(tmpdir(), "render-")), "out");
    const run = render("--config", TWO_MAILBOXES, "--out", out);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("not rendered: the account lines of postfix-accounts.cf");
    const dir = join(out, "mailserver");
    const mounts = config.mailboxes.map((m) => sieveMount(m, config.mailserver));
    expect(readdirSync(dir).sort()).toEqual([
      ...mounts.map((m) => `${m.configMapName}.configmap.yaml`),
      "mailserver.config.postfix-virtual.cf.block",
      "mailserver.deployment-patch.yaml",
    ].sort());

    // The blocks exactly as the program appends them to the shared key.
    expect(read(dir, "mailserver.config.postfix-virtual.cf.block")).toBe(config.mailboxes
      .map((m) => `${markers(m.address).begin}\n${selfAliasLine(m.address)}\n${markers(m.address).end}\n`).join(""));
    expect(parse(read(dir, "mailserver.deployment-patch.yaml"))).toEqual(sieveDeploymentPatch(config.mailboxes, config.mailserver));
    config.mailboxes.forEach((m, i) => {
      const configMap = parse(read(dir, `${mounts[i]!.configMapName}.configmap.yaml`));
      expect(configMap).toEqual(expect.objectContaining({ apiVersion: "v1", kind: "ConfigMap" }));
      expect(configMap.metadata).toEqual(expect.objectContaining({
        name: mounts[i]!.configMapName, namespace: "mailserver", annotations: { "reloader.stakater.com/match": "true" },
      }));
      // The ConfigMap holds the rendered sieve byte for byte under the key the patch mounts.
      expect(configMap.data).toEqual({ [mounts[i]!.key]: read(out, `${m.address}.dovecot.sieve`) });
    });
  });

  it.each([
    ["an existing file", (dir: string) => { writeFileSync(join(dir, "f"), "x"); return join(dir, "f"); }, /--out .*\/f is a file, not a directory/],
    ["a path below a file", (dir: string) => { writeFileSync(join(dir, "f"), "x"); return join(dir, "f", "out"); }, /--out .*\/f\/out: .*\/f is a file, not a directory/],
    ["a directory that cannot be created (/proc)", () => "/proc/pmi-render-test", /--out \/proc\/pmi-render-test: cannot create \/proc\/pmi-render-test: ENOENT/],
  ])("refuses --out as %s in one line, fast, writing nothing", (_case, target, message) => {
    const dir = mkdtempSync(join(tmpdir(), "render-out-"));
    const out = target(dir);
    const run = render("--config", PROD_STACK_FILE, "--out", out);
    expect(run.error).toBeUndefined(); // no timeout
    expect(run.status).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr.trim().split("\n")).toEqual([expect.stringMatching(message)]);
    expect(run.stderr).toContain("nothing was written");
  });

  it("a broken config prints every problem, exits non-zero and writes nothing", () => {
    const dir = mkdtempSync(join(tmpdir(), "render-bad-"));
    const stack = join(dir, "Pulumi.bad.yaml");
    writeFileSync(stack, readFileSync(PROD_STACK_FILE, "utf8")
      .replace("address: ancaelena98@gmail.com", "address: ancaelena98-at-gmail.com")
      .replace("user: emo", "user: emo bar")
      .replace("label: Viktor (meta)", "lable: Viktor (meta)"));
    const out = join(dir, "out");
    const run = render("--config", stack, "--out", out);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`${stack}: 3 problem(s)`);
    expect(run.stderr).toContain('mailboxes[0].senders[3].address: "ancaelena98-at-gmail.com" is not an email address');
    expect(run.stderr).toContain('mailboxes[0].senders[4].user: "emo bar" is not a paperless username');
    expect(run.stderr).toContain("mailboxes[0].senders[2].lable: unknown key");
    expect(run.stderr).toContain("nothing was written");
    expect(existsSync(out)).toBe(false);
  });

  it("rejects an unknown flag with usage", () => {
    const run = render("--cofnig", "x");
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("usage: npm run render");
  });
});
