// One real paperless-ngx per version for a test file, with the fault proxy in front of it. The
// providers find the server's token where they would in a deploy without stack config: the
// environment (PAPERLESS_API_TOKEN), read at call time.
import { forgetProcessMemory } from "../../providers/processMemory";
import { startFaultProxy, type FaultProxy } from "../support/faultProxy";
import { admin, type Admin } from "../support/paperless/admin";
import { startPaperless, type PaperlessServer, type PaperlessVersion } from "../support/paperless/server";
import { prodUsers } from "../support/prodConfig";

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

/** Starts the server for the enclosing describe block; every test starts from an empty server. */
export function realPaperless(version: PaperlessVersion): () => Ctx {
  let ctx: Ctx | undefined;
  const saved = process.env.PAPERLESS_API_TOKEN;
  beforeAll(async () => {
    const server = await startPaperless(version, { users: prodUsers() });
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
