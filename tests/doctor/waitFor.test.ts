// The canary's waits: a line when a wait starts, one per heartbeat while it lasts, none when the
// first look finds it; the deadline ends it with undefined.
import { waitFor } from "../../doctor/waitFor";

describe("waitFor", () => {
  test("says what it waits for when it starts waiting and at every heartbeat, and returns what the probe found", async () => {
    const lines: string[] = [];
    const ready = Date.now() + 700;
    const found = await waitFor(
      Date.now() + 5_000,
      "the document",
      (l) => lines.push(l),
      async () => (Date.now() >= ready ? "doc #7" : undefined),
      { pollMs: 50, heartbeatMs: 300 },
    );
    expect(found).toBe("doc #7");
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.length).toBeLessThanOrEqual(4);
    for (const l of lines) expect(l).toMatch(/^waiting for the document \(\d+ s, deadline in \d+ s\)$/);
  });

  test("quiet when the first look finds it; undefined at the deadline", async () => {
    const lines: string[] = [];
    expect(
      await waitFor(
        Date.now() + 5_000,
        "x",
        (l) => lines.push(l),
        async () => true,
      ),
    ).toBe(true);
    expect(lines).toEqual([]);
    expect(
      await waitFor(
        Date.now() + 200,
        "the mail in INBOX",
        (l) => lines.push(l),
        async () => undefined,
        { pollMs: 50 },
      ),
    ).toBeUndefined();
    expect(lines).toEqual([expect.stringMatching(/^waiting for the mail in INBOX \(0 s, deadline in 0 s\)$/)]);
  });
});
