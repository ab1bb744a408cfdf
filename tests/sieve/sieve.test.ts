// The rendered allowlist, compiled and executed by the real Pigeonhole sieve-test.
import { readFileSync } from "fs";
import { join } from "path";
import { renderSieve, SIEVE_MAX_BYTES, sieveConfigMapKey, sieveString } from "../../core/sieve";
import { parseConfig } from "../../stack/config";
import type { Mailbox } from "../../core/types";
import { prodConfig } from "../support/prodConfig";
import { SieveRunner, type Outcome } from "./sieveTest";

const FIXTURES = join(__dirname, "..", "fixtures", "mail");
const prodMailbox = (): Mailbox => prodConfig().mailboxes[0]!;

/** Header lines in the given order (a value may span lines: folded). */
function message(headers: Record<string, string | string[]>): string {
  const lines = Object.entries(headers).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k}: ${x}`));
  return [...lines, "To: docs@viktorbarzin.me", "Subject: Bank statement", "Message-ID: <t@example.test>", "", "See attachment.", ""].join(
    "\r\n",
  );
}

/** A one-mailbox config with these senders, validated like a real stack. */
function mailboxWith(senders: object[], extra: object = {}): Mailbox {
  const result = parseConfig({
    mailboxes: [{ address: "docs@example.org", senders, ...extra }],
    mailserver: { imapHost: "imap.example.org" },
    paperless: { url: "http://paperless.example.org" },
  });
  if (!result.ok) throw new Error(result.problems.join("\n"));
  return result.config.mailboxes[0]!;
}

describe("production allowlist (tests/fixtures/mail)", () => {
  const runner = new SieveRunner(renderSieve(prodMailbox()));
  afterAll(() => runner.close());
  const expected = JSON.parse(readFileSync(join(FIXTURES, "expected.json"), "utf8")) as {
    senders: string[];
    expect: Record<string, Outcome>;
  };

  it("assumes the same senders as the production stack", () => {
    expect(
      prodMailbox()
        .senders.map((s) => s.address)
        .sort(),
    ).toEqual([...expected.senders].sort());
  });

  it.each(Object.entries(expected.expect))("%s -> %s", (file, outcome) => {
    expect(runner.outcome(readFileSync(join(FIXTURES, file), "utf8"))).toBe(outcome);
  });

  it.each(expected.senders)("keeps mail from %s", (address) => {
    expect(runner.outcome(message({ From: address }))).toBe("keep");
  });

  it.each([
    ["a display name spoofing a listed address", '"me@viktorbarzin.me" <mallory@evil.test>'],
    ["a look-alike domain", "me@viktorbarzin.me.evil.test"],
    ["a listed local part at another domain", "vbarzin@gmail.co"],
    ["a prefix of a listed address", "me@viktorbarzin.m"],
    ["two From addresses, one listed", "me@viktorbarzin.me, mallory@evil.test"],
    ["two From addresses, both listed", "me@viktorbarzin.me, vbarzin@gmail.com"],
    ["a group with no address", "undisclosed-recipients:;"],
  ])("discards %s", (_, from) => {
    expect(runner.outcome(message({ From: from }))).toBe("discard");
  });

  it("discards a stranger who only puts a listed address in Sender, Reply-To or Resent-From", () => {
    const msg = message({
      From: "mallory@evil.test",
      Sender: "me@viktorbarzin.me",
      "Reply-To": "me@viktorbarzin.me",
      "Resent-From": "me@viktorbarzin.me",
    });
    expect(runner.outcome(msg)).toBe("discard");
  });

  it("discards a message with two From headers even if the first is listed", () => {
    expect(runner.outcome(message({ From: ["me@viktorbarzin.me", "mallory@evil.test"] }))).toBe("discard");
  });
});

describe("escaping", () => {
  it("escapes quotes and backslashes for sieve strings", () => {
    expect(sieveString('a"b\\c')).toBe('a\\"b\\\\c');
  });

  it("a display name with quotes and backslashes does not change the outcome", () => {
    const runner = new SieveRunner(renderSieve(prodMailbox()));
    try {
      expect(runner.outcome(message({ From: '"Viktor \\"the boss\\" B" <me@viktorbarzin.me>' }))).toBe("keep");
      expect(runner.outcome(message({ From: '"me@viktorbarzin.me\\"" <x@evil.test>' }))).toBe("discard");
    } finally {
      runner.close();
    }
  });

  it("a custom header name with a quote-like value compiles and still matches", () => {
    // Validation admits only Authentication-Results headers; render must escape what it is given regardless.
    const mailbox = {
      ...mailboxWith([{ address: "a@gmail.com", user: "u", requireAuthentication: true }]),
      authResultsHeader: 'X-Auth"Results',
    };
    const runner = new SieveRunner(renderSieve(mailbox));
    try {
      const ok = message({ From: "a@gmail.com", 'X-Auth"Results': "mx; dkim=pass header.d=gmail.com" });
      expect(runner.outcome(ok)).toBe("keep");
    } finally {
      runner.close();
    }
  });
});

describe("DKIM/DMARC option", () => {
  const senders = [
    { address: "strict@gmail.com", user: "u", requireAuthentication: true },
    { address: "plain@example.net", user: "u" },
  ];

  describe("without a trusted authserv-id", () => {
    const runner = new SieveRunner(renderSieve(mailboxWith(senders)));
    afterAll(() => runner.close());
    it.each([
      [
        "a dkim pass for the sender's domain",
        "mx.example.org; spf=pass smtp.mailfrom=gmail.com; dkim=pass header.d=gmail.com header.s=s1",
        "keep",
      ],
      ["a dmarc pass for the sender's domain", "mx.example.org; dmarc=pass (p=NONE) header.from=gmail.com", "keep"],
      ["the verdict in upper case", "mx.example.org; DKIM=PASS header.d=GMAIL.COM", "keep"],
      ["a dkim fail", "mx.example.org; dkim=fail header.d=gmail.com", "discard"],
      ["a dkim pass for another domain", "mx.example.org; dkim=pass header.d=evil.test", "discard"],
      ["a dkim pass for a look-alike domain", "mx.example.org; dkim=pass header.d=gmail.com.evil.test", "discard"],
      ["a dkim pass for a domain ending in the sender's", "mx.example.org; dkim=pass header.d=notgmail.com", "discard"],
      ["a pass for another method's property", "mx.example.org; spf=pass smtp.mailfrom=gmail.com; dkim=none header.d=gmail.com", "discard"],
    ])("strict sender with %s -> %s", (_, verdict, outcome) => {
      expect(runner.outcome(message({ From: "strict@gmail.com", "Authentication-Results": verdict }))).toBe(outcome);
    });

    it("discards a strict sender without any verdict header", () => {
      expect(runner.outcome(message({ From: "strict@gmail.com" }))).toBe("discard");
    });

    it("keeps a plain sender without any verdict header", () => {
      expect(runner.outcome(message({ From: "plain@example.net" }))).toBe("keep");
    });
  });

  describe("only the topmost verdict counts (the receiving server prepends its own)", () => {
    const runner = new SieveRunner(renderSieve(mailboxWith(senders)));
    afterAll(() => runner.close());
    it.each([
      [
        "a forged pass below a failing topmost verdict",
        ["mx.example.org; dkim=fail header.d=gmail.com", "mx.example.org; dkim=pass header.d=gmail.com"],
        "discard",
      ],
      [
        "a forged pass below a topmost verdict without DKIM/DMARC",
        ["mx.example.org; spf=pass smtp.mailfrom=gmail.com", "mx.example.org; dmarc=pass header.from=gmail.com"],
        "discard",
      ],
      [
        "a pass on top, a failure below",
        ["mx.example.org; dkim=pass header.d=gmail.com", "mx.example.org; dkim=fail header.d=gmail.com"],
        "keep",
      ],
      [
        "a topmost pass folded over three lines",
        ["mx.example.org;\r\n\tspf=pass smtp.mailfrom=gmail.com;\r\n\tdmarc=pass (p=NONE) header.from=gmail.com"],
        "keep",
      ],
      [
        "a topmost dkim pass folded inside its properties",
        ["mx.example.org; dkim=pass\r\n (2048-bit key) header.d=gmail.com\r\n header.s=s1"],
        "keep",
      ],
    ])("%s -> %s", (_, verdicts, outcome) => {
      expect(runner.outcome(message({ "Authentication-Results": verdicts, From: "strict@gmail.com" }))).toBe(outcome);
    });
  });
});

describe("DKIM/DMARC option with a trusted authserv-id", () => {
  const senders = [{ address: "strict@gmail.com", user: "u", requireAuthentication: true }];
  const runner = new SieveRunner(renderSieve(mailboxWith(senders, { trustedAuthservId: "mx.example.org" })));
  afterAll(() => runner.close());
  it.each([
    ["a pass written by the trusted server", ["mx.example.org; dkim=pass header.d=gmail.com"], "keep"],
    ["a folded pass written by the trusted server", ["mx.example.org 1;\r\n\tdkim=pass header.d=gmail.com"], "keep"],
    ["a pass written by anyone else (a forged header)", ["mx.evil.test; dkim=pass header.d=gmail.com"], "discard"],
    [
      "a pass naming the trusted server below another server's header",
      ["mx.evil.test; none", "mx.example.org; dkim=pass header.d=gmail.com"],
      "discard",
    ],
    [
      "a forged pass below the trusted server's failure",
      ["mx.example.org; dkim=fail header.d=gmail.com", "mx.example.org; dkim=pass header.d=gmail.com"],
      "discard",
    ],
    ["the trusted name only as a prefix", ["mx.example.org.evil.test; dkim=pass header.d=gmail.com"], "discard"],
  ])("%s -> %s", (_, verdicts, outcome) => {
    expect(runner.outcome(message({ "Authentication-Results": verdicts, From: "strict@gmail.com" }))).toBe(outcome);
  });
});

describe("size limit", () => {
  // Fixed-length addresses, so every sender adds the same number of bytes.
  const senders = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ address: `s${String(i).padStart(6, "0")}.${"x".repeat(50)}@example.org`, user: "u" }));
  const size = (n: number) => Buffer.byteLength(renderSieve(mailboxWith(senders(n))));
  const perSender = size(2) - size(1);
  const most = Math.floor((SIEVE_MAX_BYTES - (size(1) - perSender)) / perSender);

  it("the largest allowlist under Pigeonhole's limit validates and compiles with the real sievec", () => {
    const text = renderSieve(mailboxWith(senders(most)));
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(SIEVE_MAX_BYTES);
    new SieveRunner(text).close(); // throws when sievec refuses it
  });

  it("one sender more is refused at validation, naming the mailbox, the sender count and the limit", () => {
    const result = parseConfig({
      mailboxes: [{ address: "docs@example.org", senders: senders(most + 1) }],
      mailserver: { imapHost: "imap.example.org" },
      paperless: { url: "http://paperless.example.org" },
    });
    expect(result).toEqual({
      ok: false,
      problems: [
        expect.stringMatching(
          new RegExp(
            `^mailboxes\\[0\\]\\.senders: ${most + 1} senders make the sieve of docs@example.org ${size(most) + perSender} bytes long; Pigeonhole refuses a script over 1048576 bytes`,
          ),
        ),
      ],
    });
  });

  it("is Pigeonhole's own: sievec refuses a script one byte over it", () => {
    const text = renderSieve(mailboxWith(senders(most)));
    const over = text + "#".repeat(SIEVE_MAX_BYTES - Buffer.byteLength(text)) + "\n";
    expect(() => new SieveRunner(over)).toThrow(/sieve script is too large \(max 1048576 bytes\)/);
  });
});

describe("names", () => {
  it("ConfigMap keys hold no @", () => {
    expect(sieveConfigMapKey("docs@viktorbarzin.me")).toBe("docs-at-viktorbarzin.me.dovecot.sieve");
  });
});
