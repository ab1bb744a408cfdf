// Free loopback ports for the cluster's servers, so several clusters (one per test file) can run
// side by side. A port is free when asked; the server that gets it binds it right after.
import { createServer, type Server } from "node:net";

export async function freePorts(n: number): Promise<number[]> {
  // Held open together, so the n ports differ from each other.
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((resolve, reject) => {
          const s = createServer();
          s.once("error", reject).listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
