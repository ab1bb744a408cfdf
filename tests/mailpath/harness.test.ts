// The docker-mailserver harness itself, as the cluster's node agent and kubectl shim use it: two
// instances at once without collisions, reached from other processes through their directories,
// and this machine's own configuration left alone.
import { execFileSync, spawnSync } from "child_process";
import { createHash } from "crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { attachMailserver, INSTANCE_SCRIPT, startMailserver, type Mailserver } from "../support/mailserver/mailserver";

jest.setTimeout(180_000);

/** Digest of every file under these host directories (they must not change). */
function digest(...dirs: string[]): string {
  const hash = createHash("sha256");
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) hash.update(path).update(readFileSync(path));
    }
  };
  dirs.forEach(walk);
  return hash.digest("hex");
}

describe("dms-instance.sh", () => {
  const root = mkdtempSync(join(tmpdir(), "dms-harness-"));
  const hostConfig = ["/etc/postfix", "/etc/dovecot"];
  const before = digest(...hostConfig);
  const servers: Mailserver[] = [];

  /** One instance with one account, `<name>@<name>.test`, and its own mail volume. */
  function files(name: string): { configDir: string; mailDir: string } {
    const configDir = join(root, name, "config");
    const mailDir = join(root, name, "mail");
    mkdirSync(configDir, { recursive: true });
    mkdirSync(mailDir);
    const hash = execFileSync("doveadm", ["pw", "-s", "SHA512-CRYPT", "-p", name], { encoding: "utf8" }).trim();
    writeFileSync(join(configDir, "postfix-accounts.cf"), `${name}@${name}.test|${hash}\n`);
    return { configDir, mailDir };
  }

  beforeAll(async () => {
    servers.push(
      ...(await Promise.all(
        ["one", "two"].map((name) => startMailserver({ version: "v15.1.0", ...files(name), instanceDir: join(root, name, "pod") })),
      )),
    );
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop(0)));
    rmSync(root, { recursive: true, force: true });
  });

  test("two instances run at once on their own ports, each delivering into its own mail volume", async () => {
    const [one, two] = servers as [Mailserver, Mailserver];
    expect(new Set([one.smtpPort, one.imapPort, two.smtpPort, two.imapPort]).size).toBe(4);
    for (const [server, name] of [
      [one, "one"],
      [two, "two"],
    ] as const) {
      const id = `<${name}@harness.test>`;
      const delivery = await server.deliver(
        { mailFrom: "a@b.test", rcptTo: [`${name}@${name}.test`] },
        `From: a@b.test\nTo: ${name}@${name}.test\nMessage-ID: ${id}\nSubject: x\n\nx\n`,
      );
      expect(delivery.recipients).toEqual([expect.objectContaining({ status: "sent" })]);
      expect(server.locate(id)).toEqual([`${name}@${name}.test:INBOX`]);
    }
    // Each knows only its own account.
    expect((await one.exec("doveadm user two@two.test")).code).not.toBe(0);
  });

  test("another process execs (argv as kubectl exec passes it, the container's environment and exit code) and stops it", async () => {
    const dir = servers[1]!.instanceDir;
    const exec = spawnSync(
      "bash",
      [INSTANCE_SCRIPT, "exec", dir, "--", "sh", "-c", 'echo "$OVERRIDE_HOSTNAME $(cat /etc/mailname) $1"; exit 3', "sh", "it's"],
      { encoding: "utf8" },
    );
    expect([exec.status, exec.stdout]).toEqual([3, "mail.dms-harness.test dms-harness.test it's\n"]);
    expect(attachMailserver(dir)).toEqual(expect.objectContaining({ smtpPort: servers[1]!.smtpPort, imapPort: servers[1]!.imapPort }));
    const stop = spawnSync("bash", [INSTANCE_SCRIPT, "stop", dir, "--grace", "0"], { encoding: "utf8" });
    expect(stop.status).toBe(0);
    expect(spawnSync("bash", [INSTANCE_SCRIPT, "pid", dir]).status).toBe(1);
    // The first instance is unaffected.
    expect((await servers[0]!.exec("doveadm user one@one.test")).code).toBe(0);
  });

  test("this machine's Postfix and Dovecot configuration is untouched, and nothing DMS writes lands on it", () => {
    expect(digest(...hostConfig)).toBe(before);
    expect(
      ["/etc/dms-settings", "/etc/dovecot/userdb", "/CONTAINER_START", "/usr/local/bin/start-mailserver.sh"].filter(existsSync),
    ).toEqual([]);
  });
});
