// The one error style (docs/architecture.md#errors): recognised by its code, also when another
// copy of the module made it, as build/'s copy does in the engine's plugin.
import { join } from "node:path";
import { codedError, hasCode } from "../../core/codedError";
import { isPaperlessApiError } from "../../providers/paperless/client";

const BUILD = join(__dirname, "..", "..", "build");

describe("codedError and hasCode", () => {
  it("makes an Error with the code, the fields and a name from the code", () => {
    const e = codedError("OUT_OF_PAPER", "tray 2 is empty", { tray: 2 });
    expect(e).toBeInstanceOf(Error);
    expect([e.code, e.tray, e.message, String(e)]).toEqual(["OUT_OF_PAPER", 2, "tray 2 is empty", "OutOfPaper: tray 2 is empty"]);
    expect(e.stack).toContain("tray 2 is empty");
  });

  it("accepts only an error of that code", () => {
    const e = codedError("OUT_OF_PAPER", "tray 2 is empty", {});
    expect(hasCode(e, "OUT_OF_PAPER")).toBe(true);
    expect(hasCode(e, "PAPER_JAM")).toBe(false);
    expect(hasCode(new Error("OUT_OF_PAPER"), "OUT_OF_PAPER")).toBe(false);
    expect(hasCode(Object.assign(new Error("no such file"), { code: "ENOENT" }), "OUT_OF_PAPER")).toBe(false);
    expect([undefined, null, "OUT_OF_PAPER", 0].map((v) => hasCode(v, "OUT_OF_PAPER"))).toEqual([false, false, false, false]);
  });

  it("accepts an error made by build/'s copy of the module, as the engine's plugin makes them", () => {
    const built = require(join(BUILD, "core", "codedError.js")) as typeof import("../../core/codedError");
    const builtClient = require(join(BUILD, "providers", "paperless", "client.js")) as typeof import("../../providers/paperless/client");
    expect(built.codedError).not.toBe(codedError); // really another copy
    expect(hasCode(built.codedError("OUT_OF_PAPER", "tray 2 is empty", {}), "OUT_OF_PAPER")).toBe(true);
    const answered = builtClient.apiError({
      method: "GET",
      path: "/api/tags/",
      status: 403,
      detail: "You do not have permission to perform this action.",
      fieldErrors: undefined,
      retryable: false,
      retryAfterMs: undefined,
    });
    expect(isPaperlessApiError(answered)).toBe(true);
    expect(answered.message).toBe("GET /api/tags/ → 403: You do not have permission to perform this action.");
  });
});
