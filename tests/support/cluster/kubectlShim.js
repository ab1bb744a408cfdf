// kubectl SHIM of the paperless-mail-ingest test cluster (tests/support/cluster). Not kubectl.
//
// The test cluster has no kubelet, so the API server cannot stream `kubectl exec`. This shim,
// put ahead of PATH as `kubectl`, handles `exec` itself and passes every other subcommand, with
// its arguments untouched, to the real kubectl:
//   1. the caller's own kubeconfig/context/credentials are checked against the real API server
//      (`kubectl auth can-i create pods --subresource=exec`), so a bad context or a user without
//      that RBAC permission fails as it would against a real cluster;
//   2. the request goes to the cluster's node agent (nodeAgent/execServer.ts), which picks the pod
//      as kubectl does and runs the command inside that pod's docker-mailserver instance, or as
//      the attached paperless-ngx server's manage.py.
// Usage (written by the cluster as <binDir>/kubectl): node kubectlShim.js <real kubectl> <agent socket> ARGS…
"use strict";
const { spawnSync } = require("node:child_process");
const { connect } = require("node:net");

const [real, socket, ...args] = process.argv.slice(2);

// Flags that take a value (global ones and exec's own); everything else starting with '-' is boolean.
const VALUE_FLAGS = new Set(["-n", "--namespace", "--context", "--kubeconfig", "--cluster", "--user", "-s", "--server",
  "--token", "--as", "--as-group", "--as-uid", "--request-timeout", "--certificate-authority", "--client-certificate",
  "--client-key", "--tls-server-name", "--cache-dir", "-v", "--v", "--vmodule", "--log-file", "--username", "--password",
  "-c", "--container", "-f", "--filename", "--pod-running-timeout", "--profile", "--profile-output"]);
const EXEC_ONLY = new Set(["-c", "--container", "-f", "--filename", "--pod-running-timeout", "-i", "--stdin", "-t", "--tty", "-q", "--quiet"]);

function parse(argv) {
  const dash = argv.indexOf("--");
  const before = dash < 0 ? argv : argv.slice(0, dash);
  const command = dash < 0 ? [] : argv.slice(dash + 1);
  const flags = []; // [name, value | undefined]
  const positional = [];
  for (let i = 0; i < before.length; i++) {
    const a = before[i];
    if (!a.startsWith("-") || a === "-") { positional.push(a); continue; }
    const eq = a.indexOf("=");
    if (eq > 0) { flags.push([a.slice(0, eq), a.slice(eq + 1)]); continue; }
    if (VALUE_FLAGS.has(a)) { flags.push([a, before[++i]]); continue; }
    if (/^-[a-zA-Z]{2,}$/.test(a)) { for (const c of a.slice(1)) flags.push([`-${c}`, undefined]); continue; }
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

const flag = (...names) => { const f = flags.filter(([n]) => names.includes(n)).pop(); return f && f[1]; };
const has = (...names) => flags.some(([n]) => names.includes(n));
const globals = flags.filter(([n]) => !EXEC_ONLY.has(n) && n !== "-n" && n !== "--namespace")
  .flatMap(([n, v]) => (v === undefined ? [n] : [`${n}=${v}`]));
if (positional.length < 2 || command.length === 0) {
  process.stderr.write("error: this kubectl shim runs `kubectl exec POD|TYPE/NAME [-c CONTAINER] -- COMMAND [args...]` only\n");
  process.exit(1);
}
let namespace = flag("-n", "--namespace");
if (!namespace) {
  const view = spawnSync(real, [...globals, "config", "view", "--minify", "-o", "jsonpath={.contexts[0].context.namespace}"], { encoding: "utf8" });
  if (view.status !== 0) { process.stderr.write(view.stderr); process.exit(1); }
  namespace = view.stdout.trim() || "default";
}
const can = spawnSync(real, [...globals, "auth", "can-i", "create", "pods", "--subresource=exec", "-n", namespace], { encoding: "utf8" });
if (can.status !== 0) {
  process.stderr.write(can.stdout.trim() === "no"
    ? `Error from server (Forbidden): pods is forbidden: the kubeconfig's user cannot create resource "pods/exec" in namespace "${namespace}"\n`
    : can.stderr);
  process.exit(1);
}

const stdin = has("-i", "--stdin");
const sock = connect(socket);
const container = flag("-c", "--container");
sock.write(JSON.stringify({ namespace, target: positional[1], ...(container ? { container } : {}), argv: command, stdin }) + "\n");
if (stdin) process.stdin.pipe(sock); else sock.end();
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
sock.on("error", (e) => { process.stderr.write(`kubectl shim: the test cluster's node agent is not reachable at ${socket}: ${e.message}\n`); process.exit(1); });
sock.on("close", () => process.exitCode = exit);
