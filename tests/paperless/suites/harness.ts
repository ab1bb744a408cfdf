// The test harness itself, against the real server: startPaperless (users, tokens, manage.py)
// and the fault proxy in front of it (each fault, and the request record).
import { prodUsers } from "../../support/prodConfig";
import type { Ctx } from "../context";

export function harnessTests(ctx: () => Ctx): void {
  const get = (path: string, token = ctx().server.token, init: RequestInit = {}) =>
    fetch(ctx().proxy.url + path, { ...init, headers: { Authorization: `Token ${token}`, "Content-Type": "application/json" } });

  test("the server is the pinned release; the superuser and the users exist with their own tokens", async () => {
    const res = await get("/api/users/");
    expect(res.headers.get("x-version")).toBe(ctx().version);
    const users = ((await res.json()) as { results: { id: number; username: string; is_superuser: boolean }[] }).results;
    expect(users.map((u) => [u.username, u.is_superuser])).toEqual(
      [["admin", true], ...prodUsers().map((u) => [u, false])].sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    ); // the API orders by username
    expect(users.find((u) => u.username === "anca")!.id).toBe(ctx().server.users.anca!.id);
    // A plain user's token authenticates, and that user may list nothing (docs/paperless-api.md#errors).
    expect((await get("/api/tags/", ctx().server.users.anca!.token)).status).toBe(403);
    expect((await get("/api/tags/", "not-a-token")).status).toBe(401);
  });

  test("manage() runs manage.py on the server's database", async () => {
    const { stdout } = await ctx().server.manage([
      "shell",
      "-c",
      "from django.contrib.auth.models import User; print(User.objects.get(username='anca').id)",
    ]);
    expect(stdout.trim().split("\n").pop()).toBe(String(ctx().server.users.anca!.id));
    await expect(ctx().server.manage(["no_such_command"])).rejects.toThrow(/manage\.py no_such_command failed/);
  });

  test("the proxy records requests and injects each fault", async () => {
    ctx().proxy.inject({ kind: "status", status: 503, retryAfter: 2, method: "GET", path: /^\/api\/tags\// });
    const failed = await get("/api/tags/");
    expect([failed.status, failed.headers.get("retry-after")]).toEqual([503, "2"]);
    expect((await get("/api/tags/")).status).toBe(200); // times: 1

    // A write that lands, then answers 500: the tag exists on the server.
    ctx().proxy.inject({ kind: "status", landed: true, method: "POST" });
    expect((await get("/api/tags/", ctx().server.token, { method: "POST", body: JSON.stringify({ name: "landed" }) })).status).toBe(500);
    const tags = ((await (await get("/api/tags/?name__iexact=landed")).json()) as { count: number }).count;
    expect(tags).toBe(1);

    ctx().proxy.inject({ kind: "reset" });
    await expect(get("/api/tags/")).rejects.toThrow();
    ctx().proxy.inject({ kind: "hang" });
    await expect(fetch(`${ctx().proxy.url}/api/tags/`, { signal: AbortSignal.timeout(300) })).rejects.toThrow();
    ctx().proxy.inject({ kind: "slow", delayMs: 400 });
    const t0 = Date.now();
    expect((await get("/api/tags/")).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);

    expect(ctx().proxy.requests.map((r) => `${r.method} ${r.fault ?? "-"}`)).toEqual([
      "GET status",
      "GET -",
      "POST status",
      "GET -",
      "GET reset",
      "GET hang",
      "GET slow",
    ]);
    expect(ctx().proxy.writes()).toEqual([{ method: "POST", path: "/api/tags/", body: { name: "landed" }, fault: "status" }]);
    expect(ctx().proxy.count("GET", "/api/tags/")).toBe(6);
  });
}
