// The stack config only the doctor reads (doctor, canary), validated by the program's parseConfig
// like every other key: defaults, and each bad value named with its place.
import { parseConfig } from "../../stack/config";

const base = (extra: Record<string, unknown> = {}) => ({
  mailboxes: [
    {
      address: "docs@example.org",
      senders: [
        { address: "a@example.net", user: "alice" },
        { address: "b@example.net", user: "bob", requireAuthentication: true },
      ],
    },
  ],
  mailserver: { imapHost: "imap.example.org" },
  paperless: { url: "http://paperless.example.org" },
  ...extra,
});

function problems(raw: unknown): string[] {
  const result = parseConfig(raw);
  if (result.ok) throw new Error("expected the config to be rejected");
  return result.problems;
}

describe("doctor and canary settings", () => {
  it("default: the doctor logs in where paperless does, a fetch period of 10 minutes, no canary", () => {
    const result = parseConfig(base());
    if (!result.ok) throw new Error(result.problems.join("\n"));
    expect(result.config.doctor).toEqual({ fetchPeriodMinutes: 10 });
    expect(result.config.canary).toBeUndefined();
  });

  it("reads host:port values and the canary's sender, lower-cased", () => {
    const result = parseConfig(
      base({
        doctor: { imap: "127.0.0.1:10143", fetchPeriodMinutes: 5 },
        canary: { sender: "A@example.net", smtp: "mail.example.org:25" },
      }),
    );
    if (!result.ok) throw new Error(result.problems.join("\n"));
    expect(result.config.doctor).toEqual({ imap: { host: "127.0.0.1", port: 10143 }, fetchPeriodMinutes: 5 });
    expect(result.config.canary).toEqual({ sender: "a@example.net", smtp: { host: "mail.example.org", port: 25 } });
  });

  it("names each bad value with its place", () => {
    expect(problems(base({ doctor: { imap: "imap.example.org", fetchPeriodMinutes: 0, every: 1 } }))).toEqual([
      'doctor.imap: "imap.example.org" is not host:port',
      "doctor.fetchPeriodMinutes: 0 must be more than 0",
      "doctor.every: unknown key (check the spelling)",
    ]);
    expect(problems(base({ canary: { sender: "a@example.net", smtp: "mail.example.org:70000" } }))).toEqual([
      'canary.smtp: "mail.example.org:70000" has a port outside 1-65535',
    ]);
  });

  it("the canary's sender must be listed, and without requireAuthentication (the canary carries no DKIM signature)", () => {
    expect(problems(base({ canary: { sender: "c@example.net", smtp: "mail.example.org:25" } }))).toEqual([
      'canary.sender: "c@example.net" is not a sender of any mailbox; name a listed sender (its mail is kept by the sieve and filed by its rule)',
    ]);
    expect(problems(base({ canary: { sender: "b@example.net", smtp: "mail.example.org:25" } }))).toEqual([
      'canary.sender: "b@example.net" has requireAuthentication: the canary carries no DKIM signature of its domain, so the sieve would discard it; name a sender without it',
    ]);
  });
});
