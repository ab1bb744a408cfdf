// ApplyPreflight against a real kube-apiserver: the sieve mount patch, dry-run applied at preview
// to the production-shaped mailserver Deployment (created by a Terraform-like manager).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { DEPLOYMENT_FIELD_MANAGER, sieveDeploymentPatch } from "../../core/sieveMount";
import type { MailserverSettings } from "../../core/types";
import { ApplyPreflightProps, applyPreflightProvider } from "../../providers/kubernetes/applyPreflight";
import type { KubeConnection } from "../../providers/kubernetes/kubeClient";
import { binary } from "../support/cluster/binaries";
import { startKubeApi, type KubeApi } from "../support/cluster/kubeApi";
import { startFaultProxy } from "../support/faultProxy";
import { installProductionObjects, MAILSERVER, TERRAFORM_MANAGER } from "../support/cluster/productionObjects";
import { prodConfig } from "../support/prodConfig";
import { callInPlugin } from "./pluginProvider";

jest.setTimeout(120_000);

const config = prodConfig();
const mailbox = config.mailboxes[0]!;
const MOUNT_PATH = "/tmp/docker-mailserver/docs@viktorbarzin.me.dovecot.sieve";

let dir: string;
let api: KubeApi;
let provider: pulumi.dynamic.ResourceProvider;
let namespaces = 0;

/** The production objects in a namespace of their own; the mailserver settings that reach them. */
async function production(): Promise<MailserverSettings> {
  const namespace = `mailserver-${++namespaces}`;
  await installProductionObjects(binary("kubectl"), api.kubeconfig, { mailserverNamespace: namespace, paperless: false, waitForRollout: false });
  return { ...config.mailserver, namespace, container: MAILSERVER.container };
}

const props = (ms: MailserverSettings): ApplyPreflightProps => ({
  path: `/apis/apps/v1/namespaces/${ms.namespace}/deployments/${ms.deployment}`,
  body: sieveDeploymentPatch([mailbox], ms), fieldManager: DEPLOYMENT_FIELD_MANAGER, context: "",
});
const kubectl = (args: string[], input?: string) =>
  execFileSync(binary("kubectl"), ["--kubeconfig", api.kubeconfig, ...args], { encoding: "utf8", ...(input ? { input } : {}) });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "apply-preflight-"));
  api = await startKubeApi(dir, { controllerManager: false });
  const conn: KubeConnection = { server: api.server, options: { ca: readFileSync(api.caFile), headers: { authorization: `Bearer ${api.token}` } } };
  provider = applyPreflightProvider(async () => conn);
});
afterAll(async () => {
  await api?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("ApplyPreflight: the sieve mount patch, dry-run applied at preview", () => {
  it("passes on the production Deployment: the equal search annotation Terraform owns is shared, not a conflict", async () => {
    const ms = await production();
    expect((await provider.check!(props(ms), props(ms))).failures).toEqual([]);
    // A dry run: nothing of ours reached the Deployment.
    expect(kubectl(["-n", ms.namespace, "get", "deployment", ms.deployment, "-o", "jsonpath={.metadata.managedFields[*].manager}"])).toBe(TERRAFORM_MANAGER);
  });

  it("fails while the Terraform stack still mounts its own sieve there, naming Terraform and the field", async () => {
    const ms = await production();
    // What the Terraform stack applies today (design §1): the sieve from mailserver.config at the same path.
    kubectl(["-n", ms.namespace, "patch", "deployment", ms.deployment, `--field-manager=${TERRAFORM_MANAGER}`, "--type=strategic", "-p", JSON.stringify({
      spec: { template: { spec: { containers: [{ name: MAILSERVER.container, volumeMounts: [
        { name: "config", mountPath: MOUNT_PATH, subPath: "docs-at-viktorbarzin.me.dovecot.sieve", readOnly: true },
      ] }] } } },
    })]);
    const { failures } = await provider.check!(props(ms), props(ms));
    expect(failures).toHaveLength(1);
    expect(failures![0]!.reason).toMatch(new RegExp(`^server-side apply \\(dry run\\) of /apis/apps/v1/namespaces/${ms.namespace}/deployments/mailserver`
      + ` as ${DEPLOYMENT_FIELD_MANAGER}: HTTP 409 Conflict: Apply failed with \\d+ conflicts?:`));
    expect(failures![0]!.reason).toContain(`conflict with "${TERRAFORM_MANAGER}"`);
    expect(failures![0]!.reason).toContain(`.spec.template.spec.containers[name="${MAILSERVER.container}"].volumeMounts[mountPath="${MOUNT_PATH}"]`);
  });

  it("does not conflict with its own earlier apply (same field manager), e.g. of another ConfigMap name", async () => {
    const ms = await production();
    const earlier = structuredClone(props(ms).body) as any;
    earlier.spec.template.spec.volumes[0].configMap.name = "an-earlier-name";
    kubectl(["apply", "--server-side", `--field-manager=${props(ms).fieldManager}`, "-f", "-"], JSON.stringify(earlier));
    expect((await provider.check!(props(ms), props(ms))).failures).toEqual([]);
  });

  it("shows the API server's own message for an invalid patch, also as the engine's plugin runs the provider", async () => {
    const ms = await production();
    // The container name the program shipped with: the patch then adds a second container, without an image.
    const wrong = props({ ...ms, container: "mailserver" });
    const expected = "spec.template.spec.containers[1].image: Required value";
    expect((await provider.check!(wrong, wrong)).failures![0]!.reason).toContain(expected);
    const [inPlugin] = await callInPlugin("kubernetes:ApplyPreflight", [{ method: "check", args: [wrong, wrong] }], { KUBECONFIG: api.kubeconfig }) as [{ failures: { reason: string }[] }];
    expect(inPlugin.failures).toEqual([{ property: "body", reason: expect.stringContaining(expected) }]);
  });

  it("repeats the dry run (it changes nothing) when the server answers 503 or the connection drops", async () => {
    const ms = await production();
    const proxy = await startFaultProxy(api.server, { ca: readFileSync(api.caFile) });
    try {
      const viaProxy = applyPreflightProvider(async () => ({ server: proxy.url, options: { headers: { authorization: `Bearer ${api.token}` } } }));
      proxy.inject({ kind: "status", status: 503, method: "PATCH" });
      proxy.inject({ kind: "reset", method: "PATCH" });
      expect((await viaProxy.check!(props(ms), props(ms))).failures).toEqual([]);
      expect(proxy.count("PATCH")).toBe(3);
    } finally {
      await proxy.close();
    }
  });

  it("fails, naming the Deployment, when it or its namespace does not exist", async () => {
    kubectl(["create", "namespace", "empty"]);
    const ms = { ...config.mailserver, namespace: "empty", container: MAILSERVER.container };
    const { failures } = await provider.check!(props(ms), props(ms));
    expect(failures).toEqual([{ property: "body", reason: expect.stringContaining(`HTTP 404 NotFound: deployments.apps "mailserver" not found`) }]);
    const nowhere = { ...ms, namespace: "nowhere" };
    expect((await provider.check!(props(nowhere), props(nowhere))).failures)
      .toEqual([{ property: "body", reason: expect.stringContaining(`HTTP 404 NotFound: namespaces "nowhere" not found`) }]);
  });
});
