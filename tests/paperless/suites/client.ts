// The HTTP client on its own against the real server: pagination, retries, timeouts, the version
// probe, and its errors (faults from the proxy).
import {
  isPaperlessApiError,
  MAX_IN_FLIGHT,
  PaperlessClient,
  type HttpSettings,
  type PaperlessApiError,
} from "../../../providers/paperless/client";
import type { Ctx } from "../context";
import { failure } from "../support";

const FAST: HttpSettings = { timeoutMs: 2000, retries: 2, backoffMs: 1, maxBackoffMs: 5 };
/** Timers and Date.now() count whole milliseconds: a pause of n ms can show as n - 1 between two arrivals. */
const MS = 2;

export function clientTests(ctx: () => Ctx): void {
  const client = () => new PaperlessClient(ctx().url, ctx().server.token, FAST);

  test("follows `next`, whose origin is the server's own and not the proxy's it was asked through", async () => {
    const { server, proxy } = ctx();
    await server.manage([
      "shell",
      "-c",
      "from documents.models import Tag; Tag.objects.bulk_create([Tag(name=f't{i}') for i in range(2100)])",
    ]);
    // A page of 1000 takes longer than FAST's timeout on a busy machine.
    const tags = await new PaperlessClient(ctx().url, server.token, { ...FAST, timeoutMs: 30_000 }).listAll<{ name: string }>("/api/tags/");
    expect(new Set(tags.map((t) => t.name)).size).toBe(2100);
    expect(proxy.count("GET", "/api/tags/")).toBe(3); // page_size 1000
  });

  test("idempotent requests are retried; a POST is not (the caller must look up first)", async () => {
    const { proxy } = ctx();
    const c = client();
    proxy.inject({ kind: "status", status: 503, times: 2, method: "GET", path: /tags/ });
    expect(await c.listAll("/api/tags/")).toEqual([]);
    proxy.inject({ kind: "status", status: 503, method: "POST" });
    const e = await failure<PaperlessApiError>(c.request("POST", "/api/tags/", { body: { name: "x" } }));
    expect([e.status, e.retryable, proxy.count("POST", "/api/tags/")]).toEqual([503, true, 1]);
  });

  test("a timeout is retryable and says how long it waited; a 4xx carries the field errors", async () => {
    const { proxy } = ctx();
    const c = client();
    await c.serverInfo();
    proxy.inject({ kind: "slow", times: 3, method: "GET", delayMs: 2500 });
    const slow = await failure<PaperlessApiError>(c.request("GET", "/api/tags/"));
    expect([slow.message, slow.retryable]).toEqual(["GET /api/tags/ → no response: timed out after 2000 ms", true]);
    expect(proxy.count("GET", "/api/tags/")).toBe(3);
    const bad = await failure<PaperlessApiError>(c.request("POST", "/api/mail_accounts/", { body: { name: "" } }));
    expect(isPaperlessApiError(bad)).toBe(true);
    expect(bad.fieldErrors).toEqual({
      name: ["This field may not be blank."],
      imap_server: ["This field is required."],
      username: ["This field is required."],
      password: ["This field is required."],
    });
    expect(bad.message).toBe(
      "POST /api/mail_accounts/ → 400: name: This field may not be blank.; imap_server: This field is required.; username: This field is required.; password: This field is required.",
    );
    expect(bad.retryable).toBe(false);
  });

  test("the probe runs once and names the token's user; a failure that may pass is tried again later, a refusal stands", async () => {
    const { proxy, version, server } = ctx();
    const c = client();
    proxy.inject({ kind: "status", status: 503, times: 3, path: /ui_settings/ });
    await expect(c.serverInfo()).rejects.toThrow(/503/);
    expect(await c.serverInfo()).toEqual({
      apiVersion: version.startsWith("3.") ? 10 : 9,
      serverVersion: version,
      user: expect.objectContaining({ username: "admin", is_superuser: true }),
    });
    await c.serverInfo();
    await c.request("GET", "/api/tags/");
    expect(proxy.count("GET", "/api/ui_settings/")).toBe(4);
    // A user's own UI settings name it on both versions; one without permissions is refused them, once.
    const anca = new PaperlessClient(ctx().url, server.users.anca!.token, FAST);
    proxy.reset();
    for (let i = 0; i < 3; i++) expect((await failure<PaperlessApiError>(anca.serverInfo())).status).toBe(403);
    expect(proxy.count("GET", "/api/ui_settings/")).toBe(1);
  });

  test("a dropped connection is a retryable failure without the token; errors keep their code across copies of the client", async () => {
    const { proxy, server } = ctx();
    proxy.inject({ kind: "reset", times: 3 });
    const e = await failure<PaperlessApiError>(client().serverInfo());
    expect(e.message).toMatch(/^GET \/api\/ui_settings\/ → no response: connection failed \(\w+\)$/);
    expect([e.retryable, e.code, e instanceof Error]).toEqual([true, "PAPERLESS_API_ERROR", true]);
    expect(JSON.stringify(e) + e.stack).not.toContain(server.token);
    // Recognised by the property alone: a copy of the error (here through JSON) is still one.
    expect(isPaperlessApiError(JSON.parse(JSON.stringify({ ...e, message: e.message })))).toBe(true);
  });

  test(`never more than ${MAX_IN_FLIGHT} requests in flight to one server, however many are asked for at once`, async () => {
    const { proxy } = ctx();
    const c = client();
    await c.serverInfo();
    proxy.inject({ kind: "slow", times: 40, delayMs: 50 });
    await Promise.all(Array.from({ length: 40 }, () => c.request("GET", "/api/tags/?page_size=1")));
    expect(proxy.peakInFlight()).toBe(MAX_IN_FLIGHT);
  });

  test("a 503's Retry-After, in seconds or as an HTTP date, is the pause before the retry, at most maxBackoffMs", async () => {
    const { proxy } = ctx();
    const c = new PaperlessClient(ctx().url, ctx().server.token, { ...FAST, maxBackoffMs: 2500 });
    await c.serverInfo();
    /** The refused request's and the retry's arrival at the proxy. */
    const arrivals = async (retryAfter: number | string): Promise<[number, number]> => {
      proxy.reset();
      proxy.inject({ kind: "status", status: 503, method: "GET", path: /tags/, retryAfter });
      await c.request("GET", "/api/tags/");
      expect(proxy.requests.map((r) => r.fault)).toEqual(["status", undefined]);
      return [proxy.requests[0]!.at, proxy.requests[1]!.at];
    };
    const [refused, retried] = await arrivals(1);
    expect(retried - refused).toBeGreaterThanOrEqual(1000 - MS);
    // An HTTP date says whole seconds: one 1 to 2 s ahead (within the cap).
    const date = new Date(Math.ceil(Date.now() / 1000) * 1000 + 1000);
    expect((await arrivals(date.toUTCString()))[1]).toBeGreaterThanOrEqual(date.getTime() - MS);
    // An hour is capped at maxBackoffMs (the test would time out otherwise).
    const [asked, again] = await arrivals(3600);
    expect(again - asked).toBeGreaterThanOrEqual(2500 - MS);
  });

  test("a POST is never sent again, whatever befell it (it may have landed); it names its deadline; a PATCH is retried", async () => {
    const { proxy, api } = ctx();
    const c = client();
    await c.serverInfo();
    proxy.inject({ kind: "hang", method: "POST", landed: true });
    const hung = await failure<PaperlessApiError>(c.request("POST", "/api/tags/", { body: { name: "landed" } }));
    expect([hung.message, hung.retryable]).toEqual(["POST /api/tags/ → no response: timed out after 2000 ms", true]);
    proxy.inject({ kind: "reset", method: "POST" });
    await failure(c.request("POST", "/api/tags/", { body: { name: "reset" } }));
    proxy.inject({ kind: "status", status: 503, retryAfter: 0, method: "POST" });
    await failure(c.request("POST", "/api/tags/", { body: { name: "refused" } }));
    expect(proxy.count("POST", "/api/tags/")).toBe(3);
    const tags = await api.list<{ id: number; name: string }>("/api/tags/");
    expect(tags.map((t) => t.name)).toEqual(["landed"]);
    proxy.inject({ kind: "status", status: 503, method: "PATCH" });
    await c.request("PATCH", `/api/tags/${tags[0]!.id}/`, { body: { name: "renamed" } });
    expect(proxy.count("PATCH", "/api/tags/")).toBe(2);
  });

  test("no error carries the token, even where the server (or a proxy) echoes it back", async () => {
    const { proxy, server } = ctx();
    const c = client();
    await c.serverInfo();
    const token = server.token;
    proxy.inject({ kind: "status", status: 400, method: "POST", answerBody: JSON.stringify({ name: [`not with Token ${token}`] }) });
    const fields = await failure<PaperlessApiError>(c.request("POST", "/api/tags/", { body: { name: "x" } }));
    expect(fields.fieldErrors).toEqual({ name: ["not with Token [secret]"] });
    proxy.inject({ kind: "status", status: 502, times: 3, answerBody: `<html>bad gateway; you sent Authorization: Token ${token}</html>` });
    const page = await failure<PaperlessApiError>(c.request("GET", "/api/tags/"));
    expect(page.detail).toBe("<html>bad gateway; you sent Authorization: Token [secret]</html>");
    for (const e of [fields, page]) expect(e.message + JSON.stringify(e) + e.stack).not.toContain(token);
  });
}
