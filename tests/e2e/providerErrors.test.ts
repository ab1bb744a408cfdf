// A Kubernetes provider's error through the real engine: shown once, under its resource, with no
// stack trace (providers/dynamic/load.js). The paperless providers' errors are in engine.test.ts.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import type { PulumiFn } from "@pulumi/pulumi/automation";
import { ConfigMapLines } from "../../providers/kubernetes/resources";
import { PROD_STACK_FILE } from "../support/prodConfig";
import { engineStack, type EngineStack, shownErrors, STACK_TRACE_LINE, transcript } from "./engine";

jest.setTimeout(120_000);

let engine: EngineStack;
/** `kubernetes:kubeconfig` naming a file that is not there (moved, or not copied to this machine). */
let kubeconfigPath: string;

const program: PulumiFn = async () => {
  new ConfigMapLines("docs-at-viktorbarzin.me-account-line", {
    namespace: "mailserver",
    name: "mailserver.config",
    key: "postfix-accounts.cf",
    owner: "docs@viktorbarzin.me",
    format: "accounts",
    keys: ["docs@viktorbarzin.me"],
    lines: ["docs@viktorbarzin.me|{SHA512-CRYPT}$6$salt$hash"],
    cluster: { kubeconfigPath, kubeconfigText: "", context: "" },
  });
};

beforeAll(async () => {
  engine = await engineStack("provider-errors", program);
  kubeconfigPath = join(engine.dir, "kubeconfig-not-there");
  // The CLI requires the project's declared config keys before any program runs: the prod stack's.
  const prod = (parseYaml(readFileSync(PROD_STACK_FILE, "utf8")) as { config: Record<string, unknown> }).config;
  await engine.stack.workspace.saveStackSettings(engine.stack.name, { config: prod });
});

afterAll(() => engine?.dispose());

test("an error thrown by a Kubernetes provider's check shows once, with no stack trace", async () => {
  const out = transcript();
  await expect(engine.stack.preview({ diff: true, ...out.on })).rejects.toThrow();
  expect(shownErrors(out.text())).toEqual([{ error: `ENOENT: no such file or directory, open '${kubeconfigPath}'`, times: 1 }]);
  expect(out.text()).not.toMatch(STACK_TRACE_LINE);
});
