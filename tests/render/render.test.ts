// The offline render as a user runs it: a subprocess, real files, real sieve-test on the output.
import { spawnSync } from "child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { PROD_STACK_FILE } from "../support/prodConfig";
import { SieveRunner } from "../sieve/sieveTest";

const ROOT = join(__dirname, "..", "..");
const TSX = join(ROOT, "node_modules", ".bin", "tsx");

function render(...args: string[]) {
  return spawnSync(TSX, [join(ROOT, "scripts", "render.ts"), ...args], { cwd: ROOT, encoding: "utf8" });
}

describe("npm run render", () => {
  it("renders the production stack: a sieve that keeps the five senders and drops everyone else, and the plan", () => {
    const out = join(mkdtempSync(join(tmpdir(), "render-")), "out");
    const run = render("--config", PROD_STACK_FILE, "--out", out);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["docs@viktorbarzin.me.dovecot.sieve", "paperless-plan.json"]);
    expect(run.stdout).toContain("rendered 1 mailbox(es), 5 sender(s)");

    const runner = new SieveRunner(readFileSync(join(out, "docs@viktorbarzin.me.dovecot.sieve"), "utf8"));
    try {
      const plan = JSON.parse(readFileSync(join(out, "paperless-plan.json"), "utf8"));
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
