// The doctor's own logic, without servers: which checks run for --check, what a failed need or a
// thrown error becomes, and that the report never prints a secret. The checks themselves are proven
// against the real servers in doctor.test.ts.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "../../doctor/args";
import { type Check, passed, problems, verdict } from "../../doctor/check";
import { renderJson, renderText } from "../../doctor/output";
import { CHECKS } from "../../doctor/registry";
import { fixable, runChecks, selectChecks } from "../../doctor/runner";

type Ctx = { calls: string[] };
const check = (id: string, run: Check<Ctx>["run"], needs?: string[]): Check<Ctx> => ({
  id,
  group: "stack",
  description: `${id} works`,
  ...(needs ? { needs } : {}),
  run: async (ctx) => {
    ctx.calls.push(id);
    return run(ctx);
  },
});

describe("selectChecks", () => {
  const all = [
    check("a", async () => passed()),
    check("b", async () => passed(), ["a"]),
    check("c", async () => passed(), ["b"]),
    check("d", async () => passed()),
  ];

  it("--check <id> runs that check and, transitively, what it needs, in report order", () => {
    expect(selectChecks(all, "c").map((c) => c.id)).toEqual(["a", "b", "c"]);
    expect(selectChecks(all).map((c) => c.id)).toEqual(["a", "b", "c", "d"]);
  });

  it("an unknown id is an error naming it and --list-checks", () => {
    expect(() => selectChecks(all, "x")).toThrow("--check x: no such check (`npm run doctor -- --list-checks` lists them)");
  });

  it("every registered check's needs are registered checks", () => {
    const ids = new Set(CHECKS.map((c) => c.id));
    for (const c of CHECKS) for (const n of c.needs ?? []) expect(ids).toContain(n);
    expect(ids.size).toBe(CHECKS.length);
  });
});

describe("runChecks", () => {
  it("a check whose need failed is not run and reported as not checked (a warning), never as passed", async () => {
    const p = problems("a");
    const ctx: Ctx = { calls: [] };
    const out = await runChecks(
      [check("a", async () => verdict([p.fail("a is broken", "fix a")])), check("b", async () => passed(), ["a"])],
      ctx,
    );
    expect(ctx.calls).toEqual(["a"]);
    expect(out.map((o) => [o.id, o.result.status])).toEqual([
      ["a", "fail"],
      ["b", "warn"],
    ]);
    expect(out[1]!.result.problems[0]!.message).toBe("not checked: a failed");
  });

  it("what needs a check that was not run is not run either, saying why", async () => {
    const p = problems("a");
    const ctx: Ctx = { calls: [] };
    const out = await runChecks(
      [
        check("a", async () => verdict([p.fail("a is broken", "fix a")])),
        check("b", async () => passed(), ["a"]),
        check("c", async () => passed(), ["b"]),
      ],
      ctx,
    );
    expect(ctx.calls).toEqual(["a"]);
    expect(out.map((o) => [o.id, o.result.status, o.result.problems[0]?.message])).toEqual([
      ["a", "fail", "a is broken"],
      ["b", "warn", "not checked: a failed"],
      ["c", "warn", "not checked: b was not checked"],
    ]);
  });

  it("a check that throws fails with the message and the fix the error carries", async () => {
    const out = await runChecks(
      [
        check("a", async () => {
          throw fixable("server X did not answer", "check X's address");
        }),
      ],
      { calls: [] },
    );
    expect(out[0]!.result).toEqual({
      status: "fail",
      problems: [{ status: "fail", message: "server X did not answer", fix: "check X's address; see README.md#doctor-a" }],
    });
  });

  it("a check the doctor may not make (a refused read) is a warning saying so, never a pass", async () => {
    const out = await runChecks(
      [
        check("a", async () => {
          throw fixable("the token may not read /x", "use another token", { notChecked: true });
        }),
      ],
      { calls: [] },
    );
    expect(out[0]!.result).toEqual({
      status: "warn",
      problems: [{ status: "warn", message: "not checked: the token may not read /x", fix: "use another token; see README.md#doctor-a" }],
    });
  });
});

describe("runChecks again after --fetch", () => {
  it("a need outside the checks run again counts with its earlier result: failed there, not checked here", async () => {
    const p = problems("a");
    const earlier = await runChecks([check("a", async () => verdict([p.fail("a is broken", "fix a")]))], { calls: [] });
    const ctx: Ctx = { calls: [] };
    const again = await runChecks([check("b", async () => passed(), ["a"]), check("c", async () => passed())], ctx, earlier);
    expect(ctx.calls).toEqual(["c"]);
    expect(again.map((o) => [o.id, o.result.status])).toEqual([
      ["b", "warn"],
      ["c", "ok"],
    ]);
    expect(again[0]!.result.problems[0]!.message).toBe("not checked: a failed");
  });
});

describe("the report", () => {
  const secret = "s3cr3t-token-value";
  const report = {
    stack: "prod",
    seconds: 1.5,
    requests: { paperless: 3 },
    exercises: [],
    outcomes: [
      {
        id: "stack.deployed",
        group: "stack" as const,
        description: "d",
        result: verdict([problems("stack.deployed").fail(`token ${secret} leaked`, "rotate it")]),
      },
    ],
  };

  it("never prints a secret, as text or JSON", () => {
    for (const out of [renderText(report, [secret]), renderJson(report, [secret])]) {
      expect(out).not.toContain(secret);
      expect(out).toContain("[secret]");
    }
  });

  it("JSON carries the same content: id, result, error and hint (with its README anchor)", () => {
    const doc = JSON.parse(renderJson(report, []));
    expect(doc).toMatchObject({ success: false, failed: 1, warnings: 0, requests: { paperless: 3 } });
    expect(doc.categories[0].checks[0]).toEqual({
      id: "stack.deployed",
      description: "d",
      result: "error",
      problems: [{ result: "error", error: `token ${secret} leaked`, hint: "rotate it; see README.md#doctor-stack-deployed" }],
    });
  });
});

describe("text and JSON carry the same content", () => {
  const fail = problems("paperless.backlog").fail("mail X waits in INBOX", "fix Y");
  const warn = problems("paperless.backlog").warn("mail X: nothing consumed (inline)", "attach it");
  const outcome = (p: typeof fail) => ({
    id: "paperless.backlog",
    group: "paperless" as const,
    description: "no mail waits",
    result: verdict([p]),
  });
  const report = {
    stack: "prod",
    seconds: 2,
    requests: { paperless: 9, imap: 4 },
    outcomes: [
      outcome(fail),
      { id: "paperless.api", group: "paperless" as const, description: "answers", result: passed("paperless-ngx 3.0.5") },
    ],
    exercises: [
      {
        name: "fetch" as const,
        status: "ok" as const,
        steps: [{ what: "fetch docs@x", status: "ok" as const, seconds: 1.25, detail: "fetched" }],
        checks: [outcome(warn)],
      },
    ],
  };

  it("every check, problem, fix, step and check run again after --fetch is in both; both runs count", () => {
    const text = renderText(report, []);
    const doc = JSON.parse(renderJson(report, []));
    expect(doc).toMatchObject({ success: false, failed: 1, warnings: 1, requests: { paperless: 9, imap: 4 } });
    expect(doc.categories[0].checks.map((c: { id: string; result: string; note?: string }) => [c.id, c.result, c.note])).toEqual([
      ["paperless.backlog", "error", undefined],
      ["paperless.api", "success", "paperless-ngx 3.0.5"],
    ]);
    expect(doc.fetch).toEqual({
      result: "success",
      steps: [{ what: "fetch docs@x", result: "success", seconds: 1.3, detail: "fetched" }],
      checks: [
        {
          id: "paperless.backlog",
          description: "no mail waits",
          result: "warning",
          problems: [
            { result: "warning", error: "mail X: nothing consumed (inline)", hint: "attach it; see README.md#doctor-paperless-backlog" },
          ],
        },
      ],
    });
    const lines = text.split("\n");
    const after = lines.indexOf("after the fetch:");
    expect(lines.slice(0, after)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^× paperless\.backlog\s+no mail waits$/),
        "    × mail X waits in INBOX",
        "      fix: fix Y; see README.md#doctor-paperless-backlog",
        expect.stringMatching(/^✔ paperless\.api\s+answers \(paperless-ngx 3\.0\.5\)$/),
        "✔ fetch docs@x (1.3 s): fetched",
      ]),
    );
    expect(lines.slice(after + 1, after + 4)).toEqual([
      expect.stringMatching(/^‼ paperless\.backlog\s+no mail waits$/),
      "    ‼ mail X: nothing consumed (inline)",
      "      fix: attach it; see README.md#doctor-paperless-backlog",
    ]);
    expect(text).toContain("requests: paperless 9, imap 4");
    expect(text).toContain("× 1 failed, 1 warning(s) (2.0 s)");
  });
});

describe("parseArgs", () => {
  it("reads every option; an unknown one or a bad duration is an error", () => {
    expect(parseArgs(["--stack", "prod", "--json", "--check=paperless.rules", "--since", "90m"])).toEqual({
      stack: "prod",
      check: "paperless.rules",
      sinceMs: 90 * 60_000,
      fetch: false,
      canary: false,
      deadlineMs: 300_000,
      json: true,
      listChecks: false,
      help: false,
    });
    expect(() => parseArgs(["--frobnicate"])).toThrow('unknown option "--frobnicate"');
    expect(() => parseArgs(["--since", "soon"])).toThrow('--since "soon": not a duration');
    expect(() => parseArgs(["--stack"])).toThrow("--stack needs a value");
  });
});

describe("README anchors", () => {
  it("every hint the doctor can print links to an anchor the README has", () => {
    const readme = readFileSync(join(__dirname, "..", "..", "README.md"), "utf8");
    const anchors = new Set([...readme.matchAll(/<a id="([^"]+)"><\/a>/g)].map((m) => m[1]));
    const linked = new Set([
      ...CHECKS.map((c) => `doctor-${c.id.replace(/\./g, "-")}`),
      ...readdirSync(join(__dirname, "..", "..", "doctor"), { recursive: true })
        .filter((f) => String(f).endsWith(".ts"))
        .flatMap((f) =>
          [...readFileSync(join(__dirname, "..", "..", "doctor", String(f)), "utf8").matchAll(/README\.md#(doctor-[a-z-]+)/g)].map(
            (m) => m[1]!,
          ),
        ),
    ]);
    expect([...linked].filter((a) => !anchors.has(a))).toEqual([]);
  });
});
