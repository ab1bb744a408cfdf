// A Service's stable address on loopback: each port of the Service listens on a fixed local port
// and every new connection goes to the container port its targetPort names, in the most active
// Ready pod the Service selects. With no Ready pod the connection is closed at once (a real
// Service without endpoints rejects it too), so tests reach the live pod or nothing.
import { connect, createServer, type Server, type Socket } from "node:net";
import type { CoreV1Api, V1Pod, V1ServicePort } from "@kubernetes/client-node";
import type { Kubelet } from "./kubelet";
import { mostActivePod } from "./podChoice";

export interface ForwardedService {
  namespace: string;
  name: string;
  /** Service port -> local port it listens on. */
  ports: Record<string, number>;
}

const matches = (labels: Record<string, string> | undefined, selector: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** The loopback port serving `port` in the chosen pod, or undefined. */
async function upstream(core: CoreV1Api, kubelet: Kubelet, svc: ForwardedService, servicePort: number): Promise<number | undefined> {
  const service = await core.readNamespacedService({ name: svc.name, namespace: svc.namespace });
  const port: V1ServicePort | undefined = service.spec?.ports?.find((p) => p.port === servicePort);
  const selector = service.spec?.selector;
  if (!port || !selector) return undefined;
  const ready = [...kubelet.pods.values()].filter(
    (s) => !s.deleting && s.readyAt && s.pod.metadata!.namespace === svc.namespace && matches(s.pod.metadata!.labels, selector),
  );
  const pod: V1Pod | undefined = mostActivePod(ready.map((s) => s.pod));
  if (!pod) return undefined;
  const slot = kubelet.pods.get(pod.metadata!.uid!)!;
  const target = port.targetPort ?? port.port;
  for (const c of pod.spec!.containers) {
    const containerPort = typeof target === "number" ? target : c.ports?.find((p) => p.name === target)?.containerPort;
    const local = containerPort === undefined ? undefined : slot.processes.get(c.name)?.ports.get(containerPort);
    if (local !== undefined) return local;
  }
  return undefined;
}

export async function forwardService(
  core: CoreV1Api,
  kubelet: Kubelet,
  svc: ForwardedService,
  log: (l: string) => void,
): Promise<Server[]> {
  return Promise.all(
    Object.entries(svc.ports).map(([servicePort, listen]) => {
      const server = createServer((client: Socket) => {
        client.pause();
        client.on("error", () => undefined);
        upstream(core, kubelet, svc, Number(servicePort)).then(
          (local) => {
            if (local === undefined) {
              log(`service ${svc.namespace}/${svc.name}:${servicePort}: no ready endpoint, connection closed`);
              return void client.destroy();
            }
            const up = connect(local, "127.0.0.1");
            up.on("error", () => client.destroy());
            client.on("close", () => up.destroy());
            up.on("close", () => client.destroy());
            client.pipe(up).pipe(client);
            client.resume();
          },
          (e) => {
            log(`service ${svc.namespace}/${svc.name}: ${(e as Error).message}`);
            client.destroy();
          },
        );
      });
      return new Promise<Server>((resolve, reject) => server.once("error", reject).listen(listen, "127.0.0.1", () => resolve(server)));
    }),
  );
}
