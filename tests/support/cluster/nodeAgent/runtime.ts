// What runs a pod's container on this node. The agent picks a runtime by the container's image:
// docker-mailserver images run docker-mailserver's own start-up (mailserverRuntime.ts),
// paperless-ngx images exec into the test's paperless server (paperlessRuntime.ts), anything else
// "runs" without a process, so its pod becomes Ready and a rollout of it completes.
import type { Readable, Writable } from "node:stream";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import type { Mount } from "./podFiles";

export interface ExecIo {
  stdin?: Readable;
  stdout: Writable;
  stderr: Writable;
}

export interface ContainerProcess {
  /** Container port -> the loopback port where this container serves it. */
  readonly ports: ReadonlyMap<number, number>;
  /** Runs argv inside the container's environment; resolves with its exit code. */
  exec(argv: readonly string[], io: ExecIo): Promise<number>;
  /** Resolves when the container stops on its own (crash, panic), with a reason. */
  readonly exited: Promise<string>;
  /** SIGTERM, SIGKILL after `graceSeconds` (0: at once), as the kubelet stops a container. */
  stop(graceSeconds: number): Promise<void>;
}

export interface StartRequest {
  readonly pod: V1Pod;
  readonly container: V1Container;
  readonly mounts: readonly Mount[];
  /** The container's environment with literal values, as the process would get it. */
  readonly env: Readonly<Record<string, string>>;
  /** A directory for this container's own files; removed with the pod. */
  readonly dir: string;
  /** Where the runtime logs progress and output. */
  readonly log: (line: string) => void;
}

export interface ContainerRuntime {
  readonly name: string;
  start(req: StartRequest): Promise<ContainerProcess>;
}

/** A container that runs no process of its own: Ready at once, never exits; only exec does something. */
export function processlessRuntime(name: string, exec: ContainerProcess["exec"]): ContainerRuntime {
  return {
    name,
    async start() {
      return {
        ports: new Map(),
        exited: new Promise<string>(() => undefined),
        exec,
        async stop() {
          /* nothing runs */
        },
      };
    },
  };
}

/** Any other image: exec reports that the command does not exist. */
export const idleRuntime = processlessRuntime("idle", async (argv, io) => {
  io.stderr.write(
    `OCI runtime exec failed: exec failed: unable to start container process: exec: "${argv[0] ?? ""}": ` +
      `executable file not found in $PATH: this test node runs no process for this image\n`,
  );
  return 127;
});
