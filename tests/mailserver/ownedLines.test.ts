import { aliasLookupPanic, foreignDefinitions, lineKey, markers, readOwnedLines, writeOwnedLines } from "../../core/ownedLines";

const OWNER = "docs@viktorbarzin.me";
// Someone else's lines, including odd bytes that must survive untouched.
const OTHERS = "admin@viktorbarzin.me|{SHA512-CRYPT}$6$abc$def\n# a comment\n\nspam@viktorbarzin.me|$2a$06$xyz|extra\t \n";
const MINE = ["docs@viktorbarzin.me|{SHA512-CRYPT}$6$salt$hash"];

describe("writeOwnedLines", () => {
  it("appends a delimited block and keeps every other line byte for byte", () => {
    const out = writeOwnedLines(OTHERS, OWNER, MINE);
    expect(out.startsWith(OTHERS)).toBe(true);
    expect(out.slice(OTHERS.length)).toBe(
      "# BEGIN paperless-mail-ingest docs at viktorbarzin.me\ndocs@viktorbarzin.me|{SHA512-CRYPT}$6$salt$hash\n# END paperless-mail-ingest docs at viktorbarzin.me\n",
    );
    expect(readOwnedLines(out, OWNER)).toEqual(MINE);
  });

  it("is idempotent", () => {
    const once = writeOwnedLines(OTHERS, OWNER, MINE);
    expect(writeOwnedLines(once, OWNER, MINE)).toBe(once);
  });

  it("updates the block in place, lines after it untouched", () => {
    const withBlock = writeOwnedLines(OTHERS, OWNER, MINE) + "later@viktorbarzin.me|x\n";
    const updated = writeOwnedLines(withBlock, OWNER, ["docs@viktorbarzin.me|new"]);
    expect(updated).toBe(withBlock.replace(MINE[0]!, "docs@viktorbarzin.me|new"));
  });

  it("removes the block cleanly, giving back the original text", () => {
    const withBlock = writeOwnedLines(OTHERS, OWNER, MINE) + "later@viktorbarzin.me|x\n";
    expect(writeOwnedLines(withBlock, OWNER, [])).toBe(OTHERS + "later@viktorbarzin.me|x\n");
    expect(writeOwnedLines(OTHERS, OWNER, [])).toBe(OTHERS);
    expect(writeOwnedLines("a@b.cd|x", OWNER, [])).toBe("a@b.cd|x"); // no block: not a byte changed
    expect(readOwnedLines(OTHERS, OWNER)).toBeUndefined();
  });

  it("terminates an unterminated last line (DMS skips it otherwise) and writes LF only", () => {
    const out = writeOwnedLines("a@b.cd|x", OWNER, MINE);
    expect(out.startsWith("a@b.cd|x\n# BEGIN")).toBe(true);
    expect(out.endsWith("\n")).toBe(true);
    expect(out).not.toContain("\r");
    expect(writeOwnedLines(out, OWNER, [])).toBe("a@b.cd|x\n");
    expect(writeOwnedLines("", OWNER, MINE)).toBe(writeOwnedLines(OTHERS, OWNER, MINE).slice(OTHERS.length));
    expect(writeOwnedLines(writeOwnedLines("", OWNER, MINE), OWNER, [])).toBe("");
  });

  it("keeps blocks of different owners apart", () => {
    const two = writeOwnedLines(writeOwnedLines(OTHERS, OWNER, MINE), "receipts@viktorbarzin.me", ["receipts@viktorbarzin.me|r"]);
    expect(readOwnedLines(two, OWNER)).toEqual(MINE);
    expect(writeOwnedLines(two, OWNER, [])).toBe(writeOwnedLines(OTHERS, "receipts@viktorbarzin.me", ["receipts@viktorbarzin.me|r"]));
  });

  it("refuses a damaged block, a line break inside a line, or a bad owner, naming them", () => {
    const damaged = OTHERS + "# BEGIN paperless-mail-ingest docs at viktorbarzin.me\nx|y\n";
    expect(() => writeOwnedLines(damaged, OWNER, MINE)).toThrow(/block of docs@viktorbarzin.me is damaged.*line\(s\) \[5\]/);
    expect(() => writeOwnedLines(OTHERS, OWNER, ["a|b\nc|d"])).toThrow(/line 0 of the block of docs@viktorbarzin.me/);
    expect(() => writeOwnedLines(OTHERS, "docs viktor", MINE)).toThrow(/"docs viktor"/);
  });
});

describe("docker-mailserver's unanchored account lookup", () => {
  it("finds no line but the account's own: the markers never hold the address", () => {
    const text = writeOwnedLines(writeOwnedLines(OTHERS, OWNER, MINE), "receipts@viktorbarzin.me", [
      "receipts@viktorbarzin.me|{SHA512-CRYPT}$6$s$h",
    ]);
    expect(text.split("\n").filter((l) => l.includes("docs@viktorbarzin.me"))).toEqual(MINE);
    expect(Object.values(markers(OWNER)).join("")).not.toContain("@");
    expect(aliasLookupPanic(text, OWNER)).toBeUndefined();
    expect(aliasLookupPanic(text, "receipts@viktorbarzin.me")).toBeUndefined();
  });

  it("names the line DMS would panic on: the first line holding the address has no hash", () => {
    // grep's basic regex: '.' is any character, and comments are not skipped.
    const comment = "# docs@viktorbarzinXme was moved here\n";
    expect(aliasLookupPanic(comment + writeOwnedLines(OTHERS, OWNER, MINE), OWNER)).toEqual({
      line: 1,
      text: "# docs@viktorbarzinXme was moved here",
    });
    expect(aliasLookupPanic(writeOwnedLines(OTHERS, OWNER, MINE) + comment, OWNER)).toBeUndefined(); // our line is found first
    expect(aliasLookupPanic("docs@viktorbarzin.me|\n", OWNER)).toEqual({ line: 1, text: "docs@viktorbarzin.me|" });
    // Another account holding the address as a substring has a hash: a DMS warning, not a panic.
    expect(aliasLookupPanic("xdocs@viktorbarzin.me|{SHA512-CRYPT}$6$a$b\n", OWNER)).toBeUndefined();
    expect(aliasLookupPanic(OTHERS, OWNER)).toBeUndefined(); // not there at all: DMS skips the alias
  });
});

describe("foreignDefinitions", () => {
  it("finds a second definition of our address outside the block, case-insensitively", () => {
    const text = writeOwnedLines("Docs@viktorbarzin.me|$2a$06$old\nother@x.de other@x.de\n", OWNER, MINE);
    expect(foreignDefinitions(text, OWNER, "accounts", ["docs@viktorbarzin.me"])).toEqual([{ line: 1, key: "docs@viktorbarzin.me" }]);
    expect(foreignDefinitions(text, OWNER, "accounts", ["nobody@x.de"])).toEqual([]);
    expect(foreignDefinitions(writeOwnedLines("", OWNER, MINE), OWNER, "accounts", ["docs@viktorbarzin.me"])).toEqual([]);
  });

  it("keys virtual lines by their first field and skips comments", () => {
    expect(lineKey("virtual", "  docs@d.me   docs@d.me,x@y.z")).toBe("docs@d.me");
    expect(lineKey("virtual", "@d.me spam@d.me")).toBe("@d.me");
    expect(lineKey("accounts", "# docs@d.me|x")).toBeUndefined();
    expect(lineKey("accounts", "docs@d.me|{X}y|extra")).toBe("docs@d.me");
  });
});
