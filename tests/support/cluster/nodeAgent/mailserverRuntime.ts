// docker-mailserver pods: each container start is a fresh docker-mailserver instance of the
// image's release (the "dms" harness, tests/support/mailserver), whose /tmp/docker-mailserver
// holds exactly the files the pod's mounts deliver, read-only, and whose /var/mail is the pod's
// mail volume (a claim outlives the pod). That is what a restarted container sees; a DMS panic
// stops the instance as it stops the container's PID 1.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DMS_VERSIONS, INSTANCE_SCRIPT, startMailserver } from "../../mailserver/mailserver";
import type { ContainerRuntime } from "./runtime";
import { spawnExec } from "./spawnExec";

const CONFIG_DIR = "/tmp/docker-mailserver";
const MAIL_DIR = "/var/mail";

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The dms harness's instance directory inside a container's directory. */
export const instanceDir = (containerDir: string) => join(containerDir, "instance");

/** `release` as the image tag names it, e.g. 15.0.0. */
export function mailserverRuntime(release: string): ContainerRuntime {
  const version = DMS_VERSIONS.find((v) => v === `v${release}`);
  return {
    name: `docker-mailserver ${release}`,
    async start({ mounts, env, dir, log }) {
      if (!version) throw new Error(`docker-mailserver ${release}: this node runs only ${DMS_VERSIONS.join(", ")}`);
      const mailDir = mounts.find((m) => m.mountPath === MAIL_DIR);
      const configDir = mounts.find((m) => m.mountPath === CONFIG_DIR);
      const files = mounts.filter((m) => m.mountPath.startsWith(`${CONFIG_DIR}/`));
      for (const m of mounts) {
        if (m !== mailDir && m !== configDir && !files.includes(m))
          log(`mount ${m.mountPath} is not passed on: docker-mailserver gets only ${CONFIG_DIR} and ${MAIL_DIR} here`);
      }
      if (!mailDir) throw new Error(`no volume is mounted at ${MAIL_DIR}: this node runs docker-mailserver only with its mail volume`);
      const instance = instanceDir(dir);
      const server = await startMailserver({
        version,
        mailDir: mailDir.hostPath,
        env,
        instanceDir: instance,
        ...(configDir ? { configDir: configDir.hostPath } : {}),
        mounts: files.map((m) => ({ source: m.hostPath, target: m.mountPath })),
      });
      const pid = Number(readFileSync(join(instance, "pid"), "utf8"));
      log(`docker-mailserver ${release} up (pid ${pid}): smtp 127.0.0.1:${server.smtpPort}, imap 127.0.0.1:${server.imapPort}`);
      let stopping = false;
      const exited = new Promise<string>((resolve) => {
        const timer = setInterval(() => {
          if (alive(pid)) return;
          clearInterval(timer);
          const tail = server.console().trimEnd().split("\n").slice(-5).join(" | ");
          if (!stopping) resolve(`docker-mailserver stopped: ${tail}`);
        }, 500);
        timer.unref();
      });
      return {
        ports: new Map([
          [25, server.smtpPort],
          [143, server.imapPort],
        ]),
        exited,
        // The harness's shell entry rather than execArgv: it streams, and passes stdin (`kubectl exec -i`).
        exec: (argv, io) => spawnExec("bash", [INSTANCE_SCRIPT, "exec", instance, "--", ...argv], io),
        async stop(graceSeconds) {
          stopping = true;
          await server.stop(graceSeconds);
        },
      };
    },
  };
}
