// paperless-ngx pods: the server itself is the test's real paperless-ngx (started by its harness,
// reached over HTTP); what runs here is `kubectl exec` of manage.py, as the program's fetch
// trigger does it: `s6-setuidgid paperless python3 manage.py mail_fetcher`. The command that runs
// that server's manage.py is registered in `<stateDir>/runtimes/paperless-ngx.json`
// ({"manage": [argv…]}) by Cluster.attachPaperless, and read at each exec.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { processlessRuntime, type ContainerRuntime } from "./runtime";
import { spawnExec } from "./spawnExec";

export function paperlessRegistration(stateDir: string): string {
  return join(stateDir, "runtimes", "paperless-ngx.json");
}

/** argv after an optional `s6-setuidgid <user>`: `python3 manage.py ARGS` or `python3 <dir>/manage.py ARGS`. */
function manageArgs(argv: readonly string[]): string[] | undefined {
  const rest = argv[0] === "s6-setuidgid" ? argv.slice(2) : argv;
  if (!/^python3?$/.test(rest[0] ?? "") || !/(^|\/)manage\.py$/.test(rest[1] ?? "")) return undefined;
  return rest.slice(2);
}

export function paperlessRuntime(stateDir: string): ContainerRuntime {
  return processlessRuntime("paperless-ngx", async (argv, io) => {
    const args = manageArgs(argv);
    if (!args) {
      io.stderr.write(
        `this test node runs only manage.py in paperless-ngx pods (python3 manage.py …, optionally after s6-setuidgid <user>); got: ${argv.join(" ")}\n`,
      );
      return 127;
    }
    let manage: string[];
    try {
      manage = (JSON.parse(readFileSync(paperlessRegistration(stateDir), "utf8")) as { manage: string[] }).manage;
    } catch {
      io.stderr.write("no paperless-ngx server is attached to this test cluster (Cluster.attachPaperless)\n");
      return 127;
    }
    return spawnExec(manage[0]!, [...manage.slice(1), ...args], io);
  });
}
