// `kubectl exec` on this node: the kubectl shim (../kubectlShim.js) sends the request over a unix
// socket and gets the streams and the exit code back. The pod is chosen as kubectl chooses it for
// deploy/NAME (podChoice.ts); a wrong container name, a completed pod or a container that is not
// running fail with kubectl's own messages.
//
// Protocol: one JSON line {namespace, target, container?, argv, stdin}, then (when stdin) the raw
// stdin bytes until the client half-closes. Answer: JSON lines {"o": base64} (stdout),
// {"e": base64} (stderr), finally {"exit": code, "remote": true when it is the command's own}.
import { createServer, type Server } from "node:net";
import { PassThrough, Writable } from "node:stream";
import type { AppsV1Api, CoreV1Api, V1Pod } from "@kubernetes/client-node";
import { codedError, hasCode } from "../../../../core/codedError";
import type { Kubelet } from "./kubelet";
import { mostActivePod, selectorString } from "./podChoice";

export interface ExecRequest {
  namespace: string;
  /** pod/NAME, deploy/NAME (deployment/, deployments/ too) or NAME (a pod). */
  target: string;
  container?: string;
  argv: string[];
  stdin: boolean;
}

/** A failure kubectl itself reports (its message as kubectl prints it), not the command's. */
const EXEC_ERROR = "EXEC_ERROR";

const execError = (message: string) => codedError(EXEC_ERROR, message, {});

async function resolvePod(core: CoreV1Api, apps: AppsV1Api, namespace: string, target: string): Promise<V1Pod> {
  const [kind, name] = target.includes("/") ? (target.split("/", 2) as [string, string]) : ["pod", target];
  const notFound = (what: string) => execError(`Error from server (NotFound): ${what} "${name}" not found`);
  if (/^(po|pod|pods)$/.test(kind)) {
    try {
      return await core.readNamespacedPod({ name, namespace });
    } catch (e) {
      if ((e as { code?: number }).code === 404) throw notFound("pods");
      throw e;
    }
  }
  if (!/^(deploy|deployment|deployments)$/.test(kind))
    throw execError(`error: this test node execs into pods and deployments only, not ${kind}`);
  let selector: string;
  try {
    selector = selectorString((await apps.readNamespacedDeployment({ name, namespace })).spec!.selector);
  } catch (e) {
    if ((e as { code?: number }).code === 404) throw notFound("deployments.apps");
    throw e;
  }
  const pod = mostActivePod((await core.listNamespacedPod({ namespace, labelSelector: selector })).items);
  if (!pod) throw execError(`error: timed out waiting for the condition`);
  return pod;
}

async function runExec(
  core: CoreV1Api,
  apps: AppsV1Api,
  kubelet: Kubelet,
  req: ExecRequest,
  io: { stdin?: PassThrough; stdout: Writable; stderr: Writable },
): Promise<number> {
  const pod = await resolvePod(core, apps, req.namespace, req.target);
  const podName = pod.metadata!.name!;
  const names = pod.spec!.containers.map((c) => c.name);
  const defaulted = pod.metadata!.annotations?.["kubectl.kubernetes.io/default-container"] ?? names[0]!;
  const container = req.container ?? defaulted;
  if (!req.container && names.length > 1) io.stderr.write(`Defaulted container "${container}" out of: ${names.join(", ")}\n`);
  if (!names.includes(container)) throw execError(`Error from server (BadRequest): container ${container} is not valid for pod ${podName}`);
  if (pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") {
    throw execError(`error: cannot exec into a container in a completed pod; current phase is ${pod.status.phase}`);
  }
  const process = kubelet.pods.get(pod.metadata!.uid!)?.processes.get(container);
  if (!process) throw execError(`error: unable to upgrade connection: container not found ("${container}")`);
  return process.exec(req.argv, { ...(io.stdin ? { stdin: io.stdin } : {}), stdout: io.stdout, stderr: io.stderr });
}

export function serveExec(
  socketPath: string,
  core: CoreV1Api,
  apps: AppsV1Api,
  kubelet: Kubelet,
  log: (l: string) => void,
): Promise<Server> {
  const server = createServer({ allowHalfOpen: true }, (sock) => {
    let header = "";
    let stdin: PassThrough | undefined;
    const frame = (key: "o" | "e") =>
      new Writable({
        write(chunk: Buffer, _enc, done) {
          sock.write(JSON.stringify({ [key]: chunk.toString("base64") }) + "\n", done);
        },
      });
    const onData = (chunk: Buffer) => {
      if (stdin) return void stdin.write(chunk);
      const text = header + chunk.toString("latin1");
      const nl = text.indexOf("\n");
      if (nl < 0) return void (header = text);
      sock.off("data", onData);
      const req = JSON.parse(Buffer.from(text.slice(0, nl), "latin1").toString("utf8")) as ExecRequest;
      if (req.stdin) {
        stdin = new PassThrough();
        stdin.write(Buffer.from(text.slice(nl + 1), "latin1"));
        sock.on("data", (c: Buffer) => stdin!.write(c));
        sock.on("end", () => stdin!.end());
      }
      const stderr = frame("e");
      log(`exec ${req.namespace}/${req.target}${req.container ? ` -c ${req.container}` : ""}: ${req.argv.join(" ").slice(0, 200)}`);
      // The first then's rejection handler turns every failure of the exec into its answer.
      void runExec(core, apps, kubelet, req, { ...(stdin ? { stdin } : {}), stdout: frame("o"), stderr })
        .then(
          (code) => ({ exit: code, remote: true }),
          (e) => {
            if (!hasCode(e, EXEC_ERROR)) log(`exec failed: ${(e as Error).stack}`);
            stderr.write(`${(e as Error).message}\n`);
            return { exit: 1, remote: false };
          },
        )
        .then((end) => sock.end(JSON.stringify(end) + "\n"));
    };
    sock.on("data", onData);
    sock.on("error", () => undefined);
  });
  return new Promise((resolve, reject) => server.once("error", reject).listen(socketPath, () => resolve(server)));
}
