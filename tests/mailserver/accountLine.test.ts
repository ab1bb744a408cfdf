import { execFileSync } from "node:child_process";
import { accountLine, CRYPT_ALPHABET, SALT_LENGTH } from "../../core/accountLine";
import { selfAliasLine } from "../../core/aliasLine";
import { randomTextProvider } from "../../providers/random/randomText";
import { newSalt } from "../support/mailserver/accountSalt";

// Real Dovecot (Debian dovecot-core) is the judge of whether docker-mailserver will accept the hash.
function doveadmVerifies(hash: string, password: string): boolean {
  try {
    execFileSync("doveadm", ["pw", "-t", hash, "-p", password], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

const ADDRESS = "docs@viktorbarzin.me";
const PASSWORD = "correct horse: battery|staple $6$";

describe("accountLine", () => {
  const salt = newSalt();
  const line = accountLine(ADDRESS, PASSWORD, salt);
  const [address, scheme] = line.split("|") as [string, string];

  it("has the docker-mailserver shape address|{SHA512-CRYPT}$6$<salt>$<hash>, one field, no ':'", () => {
    expect(address).toBe(ADDRESS);
    expect(line.split("|")).toHaveLength(2);
    expect(scheme).toMatch(new RegExp(`^\\{SHA512-CRYPT\\}\\$6\\$${salt.replace(/[./]/g, "\\$&")}\\$[./0-9A-Za-z]{86}$`));
    expect(line).not.toContain(":");
    expect(line).not.toContain(PASSWORD);
  });

  it("verifies with doveadm pw -t, and a wrong password does not", () => {
    expect(doveadmVerifies(scheme, PASSWORD)).toBe(true);
    expect(doveadmVerifies(scheme, PASSWORD + "x")).toBe(false);
  });

  it("is the same for the same state and changes with a new password", () => {
    expect(accountLine(ADDRESS, PASSWORD, salt)).toBe(line);
    const other = accountLine(ADDRESS, "another password", salt);
    expect(other).not.toBe(line);
    expect(doveadmVerifies(other.split("|")[1]!, "another password")).toBe(true);
  });

  it("rejects an unusable salt or address, naming the value and never the password", () => {
    expect(() => accountLine(ADDRESS, PASSWORD, "short")).toThrow(/"short"/);
    expect(() => accountLine("docs|x@d.me", PASSWORD, salt)).toThrow(/"docs\|x@d.me"/);
    expect(() => accountLine(ADDRESS, "a\nb", salt)).toThrow(/docs@viktorbarzin.me/);
    let message = "";
    try {
      accountLine(ADDRESS, "secret\n", salt);
    } catch (e) {
      message = String(e);
    }
    expect(message).toMatch(/line break/);
    expect(message).not.toContain("secret");
  });
});

describe("the salt", () => {
  it("is what the salt's RandomText creates (components/mailboxAccount.ts): 16 crypt-alphabet characters, different every time", async () => {
    const created = await Promise.all(
      Array.from({ length: 50 }, () => randomTextProvider.create({ alphabet: CRYPT_ALPHABET, length: SALT_LENGTH })),
    );
    const salts = created.map((c) => (c.outs as { value: string }).value);
    for (const s of salts) {
      expect(s).toHaveLength(SALT_LENGTH);
      expect([...s].every((c) => CRYPT_ALPHABET.includes(c))).toBe(true);
    }
    expect(new Set(salts).size).toBe(salts.length);
  });
});

describe("selfAliasLine", () => {
  it("maps the mailbox to itself so the @domain catch-all does not take it", () => {
    expect(selfAliasLine(ADDRESS)).toBe("docs@viktorbarzin.me docs@viktorbarzin.me");
    expect(() => selfAliasLine("a b@c.de")).toThrow(/"a b@c.de"/);
  });
});
