// The cluster's credentials, made fresh per cluster with openssl: a CA, the API server's serving
// certificate for 127.0.0.1, the service-account signing key pair, and a static bearer token of an
// administrator (group system:masters) with the kubeconfig that uses it.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface ClusterPki {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly serviceAccountKey: string;
  readonly serviceAccountPub: string;
  /** kube-apiserver --token-auth-file. */
  readonly tokenFile: string;
  readonly adminToken: string;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

export function makePki(dir: string): ClusterPki {
  openssl(
    dir,
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "7",
    "-subj",
    "/CN=pmi-test-ca",
  );
  openssl(dir, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "apiserver.key", "-out", "apiserver.csr", "-subj", "/CN=kube-apiserver");
  writeFileSync(
    join(dir, "san.ext"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n",
  );
  openssl(
    dir,
    "x509",
    "-req",
    "-in",
    "apiserver.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "apiserver.crt",
    "-days",
    "7",
    "-extfile",
    "san.ext",
  );
  openssl(dir, "genrsa", "-out", "sa.key", "2048");
  openssl(dir, "rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub");
  const adminToken = randomBytes(16).toString("hex");
  writeFileSync(join(dir, "tokens.csv"), `${adminToken},admin,admin-uid,system:masters\n`, { mode: 0o600 });
  return {
    caFile: join(dir, "ca.crt"),
    certFile: join(dir, "apiserver.crt"),
    keyFile: join(dir, "apiserver.key"),
    serviceAccountKey: join(dir, "sa.key"),
    serviceAccountPub: join(dir, "sa.pub"),
    tokenFile: join(dir, "tokens.csv"),
    adminToken,
  };
}

/** A kubeconfig with one context, as `kubectl config view --raw` would show it. */
export function kubeconfigText(opts: { server: string; caFile: string; token: string; context: string; user: string }): string {
  return (
    JSON.stringify(
      {
        apiVersion: "v1",
        kind: "Config",
        "current-context": opts.context,
        clusters: [{ name: opts.context, cluster: { server: opts.server, "certificate-authority": opts.caFile } }],
        users: [{ name: opts.user, user: { token: opts.token } }],
        contexts: [{ name: opts.context, context: { cluster: opts.context, user: opts.user } }],
      },
      null,
      2,
    ) + "\n"
  );
}
