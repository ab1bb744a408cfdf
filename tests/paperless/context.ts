// One real paperless-ngx per version for a test file, with the fault proxy in front of it. The
// providers find the server's token where they would in a deploy without stack config: the
// environment (PAPERLESS_API_TOKEN), read at call time.
import { forgetProcessMemory } from "../../providers/processMemory";
import { startFaultProxy, type FaultProxy } from "../support/faultProxy";
import { admin, type Admin } from "../support/paperless/admin";
import type { PaperlessServer, PaperlessVersion } from "../support/paperless/server";

export interface Ctx {
  readonly version: PaperlessVersion;
  readonly server: PaperlessServer;
  readonly proxy: FaultProxy;
  /** The server's superuser, straight to the server (not through the proxy). */
  readonly api: Admin;
  /** What the providers are pointed at: the proxy. */
  readonly url: string;
  /** Id of a user created at start (the production users: root, anca, emo). */
  userId(name: string): number;
}

/**
 * The server of `version` (from `serverOf`: tests/support/paperless/inTurn.ts) for the enclosing
 * describe block, stopped after it; every test starts from an empty server.
 */
export function realPaperless(version: PaperlessVersion, serverOf: (version: PaperlessVersion) => Promise<PaperlessServer>): () => Ctx {
  let ctx: Ctx | undefined;
  const saved = process.env.PAPERLESS_API_TOKEN;
  beforeAll(async () => {
    const server = await serverOf(version);
    const proxy = await startFaultProxy(server.url);
    process.env.PAPERLESS_API_TOKEN = server.token;
    ctx = {
      version,
      server,
      proxy,
      api: admin(server),
      url: proxy.url,
      userId: (name) =>
        server.users[name]?.id ??
        (() => {
          throw new Error(`no user ${name}`);
        })(),
    };
  });
  afterAll(async () => {
    if (saved === undefined) delete process.env.PAPERLESS_API_TOKEN;
    else process.env.PAPERLESS_API_TOKEN = saved;
    await ctx?.proxy.close();
    await ctx?.server.stop();
  });
  beforeEach(async () => {
    await ctx!.api.clean();
    forgetProcessMemory();
    ctx!.proxy.reset();
  });
  return () => ctx!;
}
