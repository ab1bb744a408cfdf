// The HTTP client on its own: pagination, retries, timeouts, the version probe, and its errors.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { httpSettingsFromEnv, MAX_IN_FLIGHT, PaperlessApiError, PaperlessClient, type HttpSettings } from "../../providers/paperless/client";
import { startPaperlessEmulator, type PaperlessEmulator } from "./paperlessEmulator";
import { failure } from "./support";

const FAST: HttpSettings = { timeoutMs: 300, retries: 2, backoffMs: 1, maxBackoffMs: 5 };
let emu: PaperlessEmulator;
afterEach(() => emu.close());


test("follows `next` even when the server builds links with an origin it cannot be reached at", async () => {
  emu = await startPaperlessEmulator({ linkOrigin: "http://paperless.invalid:8000" });
  for (let i = 0; i < 2500; i++) emu.addTag(`t${i}`);
  const tags = await new PaperlessClient(emu.url, emu.token, FAST).listAll<{ name: string }>("/api/tags/");
  expect(tags).toHaveLength(2500);
  expect(new Set(tags.map((t) => t.name)).size).toBe(2500);
  expect(emu.count("GET /api/tags/")).toBe(3);
});

test("idempotent requests are retried; a POST is not (the caller must look up first)", async () => {
  emu = await startPaperlessEmulator();
  const client = new PaperlessClient(emu.url, emu.token, FAST);
  emu.fault({ kind: "5xx", times: 2, method: "GET", path: /tags/ });
  expect(await client.listAll("/api/tags/")).toEqual([]);
  emu.fault({ kind: "5xx", times: 1, method: "POST" });
  const e = await failure<PaperlessApiError>(client.request("POST", "/api/tags/", { body: { name: "x" } }));
  expect([e.status, e.retryable, emu.count("POST /api/tags/")]).toEqual([503, true, 1]);
});

test("a timeout is retryable and says how long it waited; a 4xx carries the field errors", async () => {
  emu = await startPaperlessEmulator();
  const client = new PaperlessClient(emu.url, emu.token, FAST);
  await client.serverInfo();
  emu.fault({ kind: "slow", times: 5, method: "GET", delayMs: 500 });
  const slow = await failure<PaperlessApiError>(client.request("GET", "/api/tags/"));
  expect([slow.message, slow.retryable]).toEqual(["GET /api/tags/ → no response: timed out after 300 ms", true]);
  expect(emu.count("GET /api/tags/")).toBe(3);
  emu.clearFaults();
  const bad = await failure<PaperlessApiError>(client.request("POST", "/api/mail_accounts/", { body: { name: "" } }));
  expect(bad).toBeInstanceOf(PaperlessApiError);
  expect(bad.fieldErrors).toEqual({ name: ["This field may not be blank."], imap_server: ["This field is required."], username: ["This field is required."], password: ["This field is required."] });
  expect(bad.message).toBe("POST /api/mail_accounts/ → 400: name: This field may not be blank.; imap_server: This field is required.; username: This field is required.; password: This field is required.");
  expect(bad.retryable).toBe(false);
});

test("the version probe runs once, and a failed probe is tried again later", async () => {
  emu = await startPaperlessEmulator({ mode: "2.x" });
  const client = new PaperlessClient(emu.url, emu.token, FAST);
  emu.fault({ kind: "5xx", times: 3, path: /mail_accounts/ });
  await expect(client.serverInfo()).rejects.toThrow(/503/);
  expect(await client.serverInfo()).toEqual({ apiVersion: 9, serverVersion: "2.20.15" });
  await client.serverInfo();
  await client.request("GET", "/api/tags/");
  expect(emu.count("GET /api/mail_accounts/")).toBe(4);
});

test("an unreachable server is a retryable connection failure without the token", async () => {
  emu = await startPaperlessEmulator();
  const url = emu.url;
  await emu.close();
  emu = await startPaperlessEmulator(); // for afterEach
  const e = await failure<PaperlessApiError>(new PaperlessClient(url, "secret-token-xyz", FAST).serverInfo());
  expect(e.message).toBe("GET /api/mail_accounts/?page_size=1 → no response: connection failed (ECONNREFUSED)");
  expect(JSON.stringify(e) + e.stack).not.toContain("secret-token-xyz");
});

test("HTTP settings come from the environment, and a bad value names its variable", () => {
  const saved = process.env.PAPERLESS_HTTP_TIMEOUT_MS;
  try {
    process.env.PAPERLESS_HTTP_TIMEOUT_MS = "1234";
    expect(httpSettingsFromEnv().timeoutMs).toBe(1234);
    process.env.PAPERLESS_HTTP_TIMEOUT_MS = "soon";
    expect(() => httpSettingsFromEnv()).toThrow('environment variable PAPERLESS_HTTP_TIMEOUT_MS: "soon" is not a non-negative number');
  } finally {
    if (saved === undefined) delete process.env.PAPERLESS_HTTP_TIMEOUT_MS;
    else process.env.PAPERLESS_HTTP_TIMEOUT_MS = saved;
  }
});

test(`never more than ${MAX_IN_FLIGHT} requests in flight to one server, however many are asked for at once`, async () => {
  let now = 0;
  let peak = 0;
  const server = createServer((_req, res) => {
    peak = Math.max(peak, ++now);
    setTimeout(() => {
      now--;
      res.writeHead(200, { "content-type": "application/json", "x-api-version": "10" }).end("{}");
    }, 5);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const client = new PaperlessClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, "token");
    await Promise.all(Array.from({ length: 60 }, (_, i) => client.request("GET", `/api/tags/${i}/`)));
    expect(peak).toBe(MAX_IN_FLIGHT);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
