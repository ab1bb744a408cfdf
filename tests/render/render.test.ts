// The offline render as a user runs it: a subprocess, real files, real sieve-test on the output.
import { spawnSync } from "child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { parse } from "yaml";
import { selfAliasLine } from "../../core/aliasLine";
import { markers } from "../../core/ownedLines";
import { deploymentPatch } from "../../core/deploymentPatch";
import { sieveNames } from "../../core/sieveConfigMap";
import { readStackFile } from "../../stack/stackConfig";
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

/** Everything under `dir`: each file's content, each directory, each symlink's target (not followed). */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (at: string, rel: string) => {
    for (const name of readdirSync(at).sort()) {
      const path = join(at, name);
      const stat = lstatSync(path);
      if (stat.isSymbolicLink()) out[`${rel}${name}`] = `-> ${readlinkSync(path)}`;
      else if (stat.isDirectory()) {
        out[`${rel}${name}/`] = "";
        walk(path, `${rel}${name}/`);
      } else out[`${rel}${name}`] = readFileSync(path, "utf8");
    }
  };
  walk(dir, "");
  return out;
}

/** The production stack file with `edit` applied to its parsed form, written beside a fresh --out. */
function prodStackWith(edit: (config: Record<string, any>) => void): { stack: string; out: string } {
  const dir = mkdtempSync(join(tmpdir(), "render-hostile-"));
  const doc = parse(readFileSync(PROD_STACK_FILE, "utf8"));
  edit(doc.config);
  const stack = join(dir, "Pulumi.hostile.yaml");
  writeFileSync(stack, JSON.stringify(doc));
  return { stack, out: join(dir, "out") };
}

describe("npm run render", () => {
  it("renders the production stack: a sieve that keeps the five senders and drops everyone else, and the plan", () => {
    const out = join(mkdtempSync(join(tmpdir(), "render-")), "out");
    const run = render("--config", PROD_STACK_FILE, "--out", out);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(readdirSync(out).sort()).toEqual([
      "docs@viktorbarzin.me.dovecot.sieve",
      "kubernetes-role.yaml",
      "mailserver",
      "paperless-plan.json",
      "vault-policy.hcl",
    ]);
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
        "forward: Viktor (me@)=root",
        "forward: Viktor (gmail)=root",
        "forward: Viktor (meta)=root",
        "forward: Anca=anca",
        "forward: Emo=emo",
      ]);
    } finally {
      runner.close();
    }
  });

  it("names every enum value of the plan beside paperless's integer", () => {
    const out = join(mkdtempSync(join(tmpdir(), "render-")), "out");
    expect(render("--config", PROD_STACK_FILE, "--out", out).status).toBe(0);
    const {
      account,
      rules: [rule],
    } = JSON.parse(read(out, "paperless-plan.json")).mailboxes[0];
    expect(account).toEqual(
      expect.objectContaining({ imap_security: 2, imap_security_name: "ssl", account_type: 1, account_type_name: "imap" }),
    );
    expect(rule).toEqual(
      expect.objectContaining({
        action: 2,
        action_name: "move",
        assign_title_from: 1,
        assign_title_from_name: "from_subject",
        attachment_type: 1,
        attachment_type_name: "attachments_only",
        consumption_scope: 1,
        consumption_scope_name: "attachments_only",
      }),
    );
    // The name follows its value, so the file reads in order.
    const keys = Object.keys(rule);
    expect(keys.indexOf("action_name")).toBe(keys.indexOf("action") + 1);
  });

  it("renders the mailserver side that needs no secret: alias blocks, the Deployment patch, one sieve ConfigMap per mailbox", () => {
    const config = readStackFile(TWO_MAILBOXES).config;
    const out = join(mkdtempSync(join(tmpdir(), "render-")), "out");
    const run = render("--config", TWO_MAILBOXES, "--out", out);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("not rendered: the account lines of postfix-accounts.cf");
    const dir = join(out, "mailserver");
    const mounts = config.mailboxes.map((m) => sieveNames(m, config.mailserver));
    expect(readdirSync(dir).sort()).toEqual(
      [
        ...mounts.map((m) => `${m.configMapName}.configmap.yaml`),
        "mailserver.config.postfix-virtual.cf.block",
        "mailserver.deployment-patch.yaml",
      ].sort(),
    );

    // The blocks exactly as the program appends them to the shared key.
    expect(read(dir, "mailserver.config.postfix-virtual.cf.block")).toBe(
      config.mailboxes.map((m) => `${markers(m.address).begin}\n${selfAliasLine(m.address)}\n${markers(m.address).end}\n`).join(""),
    );
    expect(parse(read(dir, "mailserver.deployment-patch.yaml"))).toEqual(deploymentPatch(config.mailboxes, config.mailserver));
    config.mailboxes.forEach((m, i) => {
      const configMap = parse(read(dir, `${mounts[i]!.configMapName}.configmap.yaml`));
      expect(configMap).toEqual(expect.objectContaining({ apiVersion: "v1", kind: "ConfigMap" }));
      expect(configMap.metadata).toEqual(
        expect.objectContaining({
          name: mounts[i]!.configMapName,
          namespace: "mailserver",
          annotations: { "reloader.stakater.com/match": "true" },
        }),
      );
      // The ConfigMap holds the rendered sieve byte for byte under the key the patch mounts.
      expect(configMap.data).toEqual({ [mounts[i]!.key]: read(out, `${m.address}.dovecot.sieve`) });
    });
  });

  it.each([
    [
      "an existing file",
      (dir: string) => {
        writeFileSync(join(dir, "f"), "x");
        return join(dir, "f");
      },
      /--out .*\/f is a file, not a directory/,
    ],
    [
      "a path below a file",
      (dir: string) => {
        writeFileSync(join(dir, "f"), "x");
        return join(dir, "f", "out");
      },
      /--out .*\/f\/out: .*\/f is a file, not a directory/,
    ],
    [
      "a directory that cannot be created (/proc)",
      () => "/proc/pmi-render-test",
      /--out \/proc\/pmi-render-test: cannot create \/proc\/pmi-render-test: ENOENT/,
    ],
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
    writeFileSync(
      stack,
      readFileSync(PROD_STACK_FILE, "utf8")
        .replace("address: ancaelena98@gmail.com", "address: ancaelena98-at-gmail.com")
        .replace("user: emo", "user: emo bar")
        .replace("label: Viktor (meta)", "lable: Viktor (meta)"),
    );
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

  it("--help prints the usage and exits 0", () => {
    for (const flag of ["--help", "-h"]) {
      const run = render(flag);
      expect(run.status).toBe(0);
      expect(run.stderr).toBe("");
      expect(run.stdout).toMatch(/^usage: npm run render -- \[--config <stack yaml>\] \[--out <dir>\]\n/);
      expect(run.stdout).toContain("--help");
    }
  });

  it("rejects an unknown flag with usage", () => {
    const run = render("--cofnig", "x");
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("usage: npm run render");
  });

  describe("--out: all files or none", () => {
    /** An --out that already holds an earlier render, so "as it was" is more than "empty". */
    function earlierRender(): string {
      const out = join(mkdtempSync(join(tmpdir(), "render-out-")), "out");
      expect(render("--config", PROD_STACK_FILE, "--out", out).status).toBe(0);
      writeFileSync(join(out, "docs@viktorbarzin.me.dovecot.sieve"), "# an earlier sieve\n");
      writeFileSync(join(out, "notes.txt"), "the user's own file\n");
      return out;
    }

    it("a directory where a file goes: one line naming it, nothing changed", () => {
      const out = earlierRender();
      rmSync(join(out, "paperless-plan.json"));
      mkdirSync(join(out, "paperless-plan.json"));
      const before = tree(out);
      const run = render("--config", TWO_MAILBOXES, "--out", out);
      expect(run.status).toBe(1);
      expect(run.stdout).toBe("");
      expect(run.stderr.trim().split("\n")).toEqual([
        `render: --out ${out}: ${join(out, "paperless-plan.json")} is a directory, where the render writes a file; nothing was written.`,
      ]);
      expect(tree(out)).toEqual(before);
    });

    it("a failure while moving the files into place puts back every file already moved", () => {
      const out = earlierRender();
      // mailserver/ on another file system: the sieves and the plan move into place, then the
      // first mailserver file cannot be renamed there (EXDEV).
      const elsewhere = mkdtempSync("/dev/shm/render-elsewhere-");
      try {
        rmSync(join(out, "mailserver"), { recursive: true });
        symlinkSync(elsewhere, join(out, "mailserver"));
        const before = tree(out);
        const run = render("--config", TWO_MAILBOXES, "--out", out);
        expect(run.status).toBe(1);
        expect(run.stdout).toBe("");
        expect(run.stderr.trim().split("\n")).toEqual([
          expect.stringMatching(
            new RegExp(
              `^render: --out ${out}: cannot write ${out}/mailserver/\\S+: EXDEV \\(cross-device link not permitted\\); nothing was written\\.$`,
            ),
          ),
        ]);
        expect(tree(out)).toEqual(before);
        expect(readdirSync(elsewhere)).toEqual([]);
      } finally {
        rmSync(elsewhere, { recursive: true, force: true });
      }
    });
  });

  describe("hostile stack files: refused with a named error before anything is written", () => {
    it("reads at most 4 MiB of --config (/dev/zero)", () => {
      const out = join(mkdtempSync(join(tmpdir(), "render-zero-")), "out");
      const run = render("--config", "/dev/zero", "--out", out);
      expect(run.error).toBeUndefined(); // no timeout
      expect(run.status).toBe(1);
      expect(run.stderr).toBe(
        "/dev/zero: 1 problem(s) in the configuration:\n" +
          "  - is larger than 4194304 bytes (4 MiB), the most a stack file may be; is it the stack file?\nnothing was written.\n",
      );
      expect(existsSync(out)).toBe(false);
    });

    it("names every hole at once and never prints a password or a bidi character", () => {
      const { stack, out } = prodStackWith((config) => {
        const docs = config["paperless-mail-ingest:mailboxes"][0];
        docs.authResultsHeader = "Subject";
        docs.senders[0].tags = ["bank", "Bank"];
        docs.senders[1].label = "Viktor \u202egmail";
        config["paperless-mail-ingest:paperless"].url = "https://admin:hunter2@paperless.example.org";
        config["vault:token"] = "hvs.hunter3";
        config["kubernetes:kubeconfig"] = "apiVersion: v1\nclusters: []\n";
      });
      const run = render("--config", stack, "--out", out);
      expect(run.status).toBe(1);
      expect(run.stdout).toBe("");
      const lines = run.stderr.trim().split("\n");
      expect(lines[0]).toBe(`${stack}: 6 problem(s) in the configuration:`);
      expect(lines.slice(1, -1).map((l) => l.replace(/^ {2}- ((?:vault:|kubernetes:)?[^:]+):.*$/, "$1"))).toEqual([
        "vault:token",
        "kubernetes:kubeconfig",
        "mailboxes[0].authResultsHeader",
        "paperless.url",
        "mailboxes[0].senders[1].label",
        "mailboxes[0].senders[0].tags[1]",
      ]);
      expect(lines.at(-1)).toBe("nothing was written.");
      expect(run.stderr).toContain('paperless.url: "https://***@paperless.example.org" holds a user name or password');
      expect(run.stderr).not.toMatch(/hunter2|hunter3|\u202e/);
      expect(existsSync(out)).toBe(false);
    });

    it("refuses two mailboxes that would share their Kubernetes names, naming both", () => {
      const { stack, out } = prodStackWith((config) => {
        config["paperless-mail-ingest:mailboxes"].push(
          { address: "scans.x@viktorbarzin.me", senders: [{ address: "a@example.net", user: "root" }] },
          { address: "scans-x@viktorbarzin.me", senders: [{ address: "b@example.net", user: "root" }] },
        );
      });
      const run = render("--config", stack, "--out", out);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain(
        'mailboxes[2].address: "scans-x@viktorbarzin.me" gives the same volume name "sieve-scans-x-at-viktorbarzin-me", ' +
          'Reloader variable "STAKATER_MAILSERVER_SIEVE_SCANS_X_AT_VIKTORBARZIN_ME_CONFIGMAP" as mailboxes[1].address "scans.x@viktorbarzin.me"',
      );
      expect(existsSync(out)).toBe(false);
    });

    it("refuses a config larger than the CLI can hand the program (one environment variable of 128 KiB)", () => {
      const { stack, out } = prodStackWith((config) => {
        const senders = config["paperless-mail-ingest:mailboxes"][0].senders;
        for (let i = 0; i < 1500; i++) senders.push({ address: `sender${i}@example${i}.net`, user: "root", label: `Sender ${i}` });
      });
      const run = render("--config", stack, "--out", out);
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(
        /^ {2}- config: is 1\d{5} bytes as the Pulumi CLI hands it to the program \(all of it in one environment variable, PULUMI_CONFIG\), over the 131072 bytes Linux allows one variable \(MAX_ARG_STRLEN\)/m,
      );
      expect(existsSync(out)).toBe(false);
    });

    it("an address too long for the names it gives is a config error, not an --out error", () => {
      const long = `docs@${"d".repeat(60)}.${"e".repeat(60)}.${"f".repeat(60)}.${"g".repeat(40)}.org`;
      const { stack, out } = prodStackWith((config) => {
        config["paperless-mail-ingest:mailboxes"][0].address = long;
      });
      const run = render("--config", stack, "--out", out);
      expect(run.status).toBe(1);
      expect(run.stderr).toContain(`mailboxes[0].address: "${long}" gives the file name`);
      expect(run.stderr).not.toContain("--out");
      expect(run.stderr).toContain("nothing was written");
      expect(existsSync(out)).toBe(false);
    });

    it("says on its output that vault:skipTlsVerify turns the TLS check off", () => {
      const { stack, out } = prodStackWith((config) => {
        config["vault:skipTlsVerify"] = true;
      });
      const run = render("--config", stack, "--out", out);
      expect(run.status).toBe(0);
      expect(run.stderr).toBe(
        "warning: vault:skipTlsVerify turns off the check of Vault's TLS certificate: the Vault token goes to " +
          "whoever answers at vault:address; give Vault's CA with vault:caCertFile (or VAULT_CACERT) instead\n",
      );
    });
  });
});
