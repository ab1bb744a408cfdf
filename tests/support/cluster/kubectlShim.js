// kubectl SHIM of the paperless-mail-ingest test cluster (tests/support/cluster). Not kubectl.
//
// The test cluster has no kubelet, so the API server cannot stream `kubectl exec`. This shim,
// put ahead of PATH as `kubectl`, handles `exec` itself and passes every other subcommand, with
// its arguments untouched, to the real kubectl:
//   1. it makes, as the caller (their kubeconfig, context and credentials, through the real
//      kubectl), the requests real kubectl makes before it execs (docs/kubernetes-rights.md):
//      for deploy/NAME a GET of the Deployment and a LIST of its pods by its selector (and, when
//      none matches, it would WATCH them: asked with `auth can-i`); for a pod, a GET of it; then
//      `auth can-i create pods/exec` for the exec itself. So a bad context or an identity missing
//      any of those rights fails as it would against a real cluster, with kubectl's own message;
//   2. the request goes to the cluster's node agent (nodeAgent/execServer.ts), which picks the pod
//      as kubectl does and runs the command inside that pod's docker-mailserver instance, or as
//      the attached paperless-ngx server's manage.py.
// Usage (written by the cluster as <binDir>/kubectl): node kubectlShim.js <real kubectl> <agent socket> ARGS…
"use strict";
const { spawnSync } = require("node:child_process");
const { connect } = require("node:net");

const [real, socket, ...args] = process.argv.slice(2);

// Flags that take a value (global ones and exec's own); everything else starting with '-' is boolean.
const VALUE_FLAGS = new Set([
  "-n",
  "--namespace",
  "--context",
  "--kubeconfig",
  "--cluster",
  "--user",
  "-s",
  "--server",
  "--token",
  "--as",
  "--as-group",
  "--as-uid",
  "--request-timeout",
  "--certificate-authority",
  "--client-certificate",
  "--client-key",
  "--tls-server-name",
  "--cache-dir",
  "-v",
  "--v",
  "--vmodule",
  "--log-file",
  "--username",
  "--password",
  "-c",
  "--container",
  "-f",
  "--filename",
  "--pod-running-timeout",
  "--profile",
  "--profile-output",
]);
const EXEC_ONLY = new Set([
  "-c",
  "--container",
  "-f",
  "--filename",
  "--pod-running-timeout",
  "-i",
  "--stdin",
  "-t",
  "--tty",
  "-q",
  "--quiet",
]);

function parse(argv) {
  const dash = argv.indexOf("--");
  const before = dash < 0 ? argv : argv.slice(0, dash);
  const command = dash < 0 ? [] : argv.slice(dash + 1);
  const flags = []; // [name, value | undefined]
  const positional = [];
  for (let i = 0; i < before.length; i++) {
    const a = before[i];
    if (!a.startsWith("-") || a === "-") {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    if (eq > 0) {
      flags.push([a.slice(0, eq), a.slice(eq + 1)]);
      continue;
    }
    if (VALUE_FLAGS.has(a)) {
      flags.push([a, before[++i]]);
      continue;
    }
    if (/^-[a-zA-Z]{2,}$/.test(a)) {
      for (const c of a.slice(1)) flags.push([`-${c}`, undefined]);
      continue;
    }
    flags.push([a, undefined]);
  }
  return { flags, positional, command };
}

function passThrough() {
  const r = spawnSync(real, args, { stdio: "inherit" });
  process.exit(r.status ?? 1);
}

const { flags, positional, command } = parse(args);
if (positional[0] !== "exec") passThrough();

const flag = (...names) => {
  const f = flags.filter(([n]) => names.includes(n)).pop();
  return f && f[1];
};
const has = (...names) => flags.some(([n]) => names.includes(n));
const globals = flags
  .filter(([n]) => !EXEC_ONLY.has(n) && n !== "-n" && n !== "--namespace")
  .flatMap(([n, v]) => (v === undefined ? [n] : [`${n}=${v}`]));
if (positional.length < 2 || command.length === 0) {
  process.stderr.write("error: this kubectl shim runs `kubectl exec POD|TYPE/NAME [-c CONTAINER] -- COMMAND [args...]` only\n");
  process.exit(1);
}
let namespace = flag("-n", "--namespace");
if (!namespace) {
  const view = spawnSync(real, [...globals, "config", "view", "--minify", "-o", "jsonpath={.contexts[0].context.namespace}"], {
    encoding: "utf8",
  });
  if (view.status !== 0) {
    process.stderr.write(view.stderr);
    process.exit(1);
  }
  namespace = view.stdout.trim() || "default";
}
/** The real kubectl as the caller, in the namespace; on failure its own message and exit 1, as kubectl exec would end. */
function asCaller(...argv) {
  const r = spawnSync(real, [...globals, "-n", namespace, ...argv], { encoding: "utf8" });
  if (r.status !== 0) {
    process.stderr.write(r.stderr);
    process.exit(1);
  }
  return r.stdout;
}
/** `auth can-i` as the caller; a refusal ends the shim with the API server's kind of message. */
function mayOrExit(verb, resource, subresource) {
  const can = spawnSync(
    real,
    [...globals, "auth", "can-i", verb, resource, ...(subresource ? [`--subresource=${subresource}`] : []), "-n", namespace],
    { encoding: "utf8" },
  );
  if (can.status === 0) return;
  process.stderr.write(
    can.stdout.trim() === "no"
      ? `Error from server (Forbidden): ${resource} is forbidden: the kubeconfig's user cannot ${verb} resource "${resource}${subresource ? `/${subresource}` : ""}" in the namespace "${namespace}"\n`
      : can.stderr,
  );
  process.exit(1);
}

const [kind, name] = positional[1].includes("/") ? positional[1].split("/", 2) : ["pod", positional[1]];
if (/^(deploy|deployment|deployments)(\.apps)?$/.test(kind)) {
  // The selector as kubectl's label-selector text; the test cluster's Deployments select by labels only.
  const selector = asCaller(
    "get",
    "deployment.apps",
    name,
    "-o",
    "go-template={{if .spec.selector.matchExpressions}}matchExpressions{{else}}{{range $k, $v := .spec.selector.matchLabels}}{{$k}}={{$v}},{{end}}{{end}}",
  );
  if (selector === "matchExpressions") {
    process.stderr.write(`error: this kubectl shim resolves Deployments that select by matchLabels only (deployment ${name})\n`);
    process.exit(1);
  }
  if (!asCaller("get", "pods", "-l", selector.replace(/,$/, ""), "-o", "name").trim()) mayOrExit("watch", "pods");
} else if (/^(po|pod|pods)$/.test(kind)) {
  asCaller("get", "pod", name, "-o", "name");
}
mayOrExit("create", "pods", "exec");

const stdin = has("-i", "--stdin");
const sock = connect(socket);
const container = flag("-c", "--container");
sock.write(JSON.stringify({ namespace, target: positional[1], ...(container ? { container } : {}), argv: command, stdin }) + "\n");
if (stdin) process.stdin.pipe(sock);
else sock.end();
let buffered = "";
let exit = 1;
sock.on("data", (chunk) => {
  buffered += chunk.toString("utf8");
  let nl;
  while ((nl = buffered.indexOf("\n")) >= 0) {
    const frame = JSON.parse(buffered.slice(0, nl));
    buffered = buffered.slice(nl + 1);
    if (frame.o !== undefined) process.stdout.write(Buffer.from(frame.o, "base64"));
    if (frame.e !== undefined) process.stderr.write(Buffer.from(frame.e, "base64"));
    if (frame.exit !== undefined) {
      exit = frame.exit;
      if (frame.remote && exit !== 0) process.stderr.write(`command terminated with exit code ${exit}\n`);
    }
  }
});
sock.on("error", (e) => {
  process.stderr.write(`kubectl shim: the test cluster's node agent is not reachable at ${socket}: ${e.message}\n`);
  process.exit(1);
});
sock.on("close", () => (process.exitCode = exit));
