// DeploymentMountsPatch against a real kube-apiserver: the sieve mounts applied by server-side
// apply to the production-shaped mailserver Deployment (created by a Terraform-like manager):
// the dry run at preview, the apply, the key-wise diff, drift, and giving the fields up again.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { DEPLOYMENT_FIELD_MANAGER, deploymentMounts } from "../../core/deploymentPatch";
import type { MailserverSettings } from "../../core/types";
import { type DeploymentMountsProps, deploymentMountsProvider } from "../../providers/kubernetes/deploymentMounts";
import type { KubeConnection } from "../../providers/kubernetes/kubeClient";
import { binary } from "../support/cluster/binaries";
import { startKubeApi, type KubeApi } from "../support/cluster/kubeApi";
import { installProductionObjects, MAILSERVER, TERRAFORM_MANAGER } from "../support/cluster/productionObjects";
import { startFaultProxy } from "../support/faultProxy";
import { prodConfig } from "../support/prodConfig";
import { forgetProcessMemory } from "../../providers/processMemory";
import { callInPlugin } from "./pluginProvider";

jest.setTimeout(120_000);

const config = prodConfig();
const mailbox = config.mailboxes[0]!;
const receipts = { ...mailbox, address: "receipts@viktorbarzin.me", localPart: "receipts" };
const MOUNT_PATH = "/tmp/docker-mailserver/docs@viktorbarzin.me.dovecot.sieve";

let dir: string;
let api: KubeApi;
let provider: pulumi.dynamic.ResourceProvider;
let namespaces = 0;

/** The production objects in a namespace of their own; the mailserver settings that reach them. */
async function production(): Promise<MailserverSettings> {
  const namespace = `mailserver-${++namespaces}`;
  await installProductionObjects(binary("kubectl"), api.kubeconfig, {
    mailserverNamespace: namespace,
    paperless: false,
    waitForRollout: false,
  });
  return { ...config.mailserver, namespace, container: MAILSERVER.container };
}

const props = (ms: MailserverSettings, mailboxes = [mailbox]): DeploymentMountsProps => ({
  ...deploymentMounts(mailboxes, ms),
  cluster: { kubeconfigPath: "", kubeconfigText: "", context: "" },
});
const kubectl = (args: string[], input?: string) =>
  execFileSync(binary("kubectl"), ["--kubeconfig", api.kubeconfig, ...args], { encoding: "utf8", ...(input ? { input } : {}) });
const live = (ms: MailserverSettings): any =>
  JSON.parse(kubectl(["-n", ms.namespace, "get", "deployment", ms.deployment, "-o", "json", "--show-managed-fields"]));
const managers = (ms: MailserverSettings): string[] => (live(ms).metadata.managedFields as { manager: string }[]).map((m) => m.manager);
const mountPaths = (ms: MailserverSettings): string[] =>
  live(ms)
    .spec.template.spec.containers.find((c: any) => c.name === MAILSERVER.container)
    .volumeMounts.map((m: any) => m.mountPath);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "deployment-mounts-"));
  api = await startKubeApi(dir, { controllerManager: false });
  const conn: KubeConnection = {
    server: api.server,
    options: { ca: readFileSync(api.caFile), headers: { authorization: `Bearer ${api.token}` } },
  };
  provider = deploymentMountsProvider(async () => conn);
});
afterAll(async () => {
  await api?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("DeploymentMountsPatch check: the apply, dry-run at preview", () => {
  it("passes on the production Deployment (the equal search annotation Terraform owns is shared) and writes nothing", async () => {
    const ms = await production();
    expect((await provider.check!(props(ms), props(ms))).failures).toEqual([]);
    expect(managers(ms)).toEqual([TERRAFORM_MANAGER]);
  });

  it("fails while the Terraform stack still mounts its own sieve there, naming Terraform and the field", async () => {
    const ms = await production();
    // What the Terraform stack applies today (README: Migration): the sieve from mailserver.config at the same path.
    kubectl([
      "-n",
      ms.namespace,
      "patch",
      "deployment",
      ms.deployment,
      `--field-manager=${TERRAFORM_MANAGER}`,
      "--type=strategic",
      "-p",
      JSON.stringify({
        spec: {
          template: {
            spec: {
              containers: [
                {
                  name: MAILSERVER.container,
                  volumeMounts: [
                    { name: "config", mountPath: MOUNT_PATH, subPath: "docs-at-viktorbarzin.me.dovecot.sieve", readOnly: true },
                  ],
                },
              ],
            },
          },
        },
      }),
    ]);
    const { failures } = await provider.check!(props(ms), props(ms));
    expect(failures).toHaveLength(1);
    expect(failures![0]!.reason).toMatch(
      new RegExp(
        `^server-side apply \\(dry run\\) of /apis/apps/v1/namespaces/${ms.namespace}/deployments/mailserver` +
          ` as ${DEPLOYMENT_FIELD_MANAGER}: HTTP 409 Conflict: Apply failed with \\d+ conflicts?:`,
      ),
    );
    expect(failures![0]!.reason).toContain(`conflict with "${TERRAFORM_MANAGER}"`);
    expect(failures![0]!.reason).toContain(
      `.spec.template.spec.containers[name="${MAILSERVER.container}"].volumeMounts[mountPath="${MOUNT_PATH}"]`,
    );
  });

  it("does not conflict with its own earlier apply (same field manager), e.g. of another ConfigMap name", async () => {
    const ms = await production();
    const earlier = props(ms);
    await provider.create({ ...earlier, mounts: [{ ...earlier.mounts[0]!, configMapName: "an-earlier-name" }] });
    expect((await provider.check!(props(ms), props(ms))).failures).toEqual([]);
  });

  it("names a container the Deployment does not have, and the ones it has (also as the engine's plugin runs it)", async () => {
    const ms = await production();
    // The container name the program shipped with; an apply would add a second container without an image.
    const wrong = props({ ...ms, container: "mailserver" });
    const expected = `Deployment ${ms.namespace}/mailserver has no container "mailserver" (its containers: "docker-mailserver")`;
    expect((await provider.check!(wrong, wrong)).failures).toEqual([{ property: "container", reason: expect.stringContaining(expected) }]);
    const [inPlugin] = (await callInPlugin("kubernetes:DeploymentMountsPatch", [{ method: "check", args: [wrong, wrong] }], {
      KUBECONFIG: api.kubeconfig,
    })) as [{ failures: unknown[] }];
    expect(inPlugin.failures).toEqual([{ property: "container", reason: expect.stringContaining(expected) }]);
  });

  it("repeats its requests (they change nothing) when the server answers 503 or the connection drops", async () => {
    const ms = await production();
    const proxy = await startFaultProxy(api.server, { ca: readFileSync(api.caFile) });
    try {
      const viaProxy = deploymentMountsProvider(async () => ({
        server: proxy.url,
        options: { headers: { authorization: `Bearer ${api.token}` } },
      }));
      proxy.inject({ kind: "status", status: 503, method: "PATCH" });
      proxy.inject({ kind: "reset", method: "PATCH" });
      expect((await viaProxy.check!(props(ms), props(ms))).failures).toEqual([]);
      expect(proxy.count("PATCH")).toBe(3);
    } finally {
      await proxy.close();
    }
  });

  it("names the Deployment when it or its namespace does not exist", async () => {
    kubectl(["create", "namespace", "empty"]);
    for (const namespace of ["empty", "nowhere"]) {
      const ms = { ...config.mailserver, namespace, container: MAILSERVER.container };
      expect((await provider.check!(props(ms), props(ms))).failures).toEqual([
        {
          property: "container",
          reason: `Deployment ${namespace}/mailserver does not exist; it belongs to the mailserver's own stack, which must create it first`,
        },
      ]);
    }
  });
});

describe("DeploymentMountsPatch lifecycle", () => {
  it("applies only our volumes, mounts and annotation; no change is a no-op diff although the owner's mounts come first", async () => {
    const ms = await production();
    const before = mountPaths(ms);
    const { outs } = await provider.create(props(ms));
    expect(mountPaths(ms)).toEqual([...before, MOUNT_PATH]);
    expect(managers(ms)).toEqual(expect.arrayContaining([TERRAFORM_MANAGER, DEPLOYMENT_FIELD_MANAGER]));
    // What the real DeploymentPatch got wrong: its index-wise diff saw the owner's mounts as ours.
    expect(await provider.diff!("id", outs, props(ms))).toEqual({ changes: false });
    // As the engine hands inputs over: every object's keys sorted.
    const sorted = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(sorted)
        : v !== null && typeof v === "object"
          ? Object.fromEntries(
              Object.keys(v)
                .sort()
                .map((k) => [k, sorted((v as Record<string, unknown>)[k])]),
            )
          : v;
    expect(await provider.diff!("id", sorted(outs), sorted(props(ms)))).toEqual({ changes: false });
    const read = await provider.read!("id", outs);
    expect(read.props).toEqual(outs);
  });

  it("adds a second mailbox's mount in place and gives up a removed one", async () => {
    const ms = await production();
    const { outs } = await provider.create(props(ms));
    const two = props(ms, [mailbox, receipts]);
    expect((await provider.diff!("id", outs, two)).changes).toBe(true);
    await provider.update!("id", outs, two);
    expect(mountPaths(ms)).toEqual(expect.arrayContaining([MOUNT_PATH, "/tmp/docker-mailserver/receipts@viktorbarzin.me.dovecot.sieve"]));
    await provider.update!("id", two, props(ms));
    expect(mountPaths(ms)).not.toContain("/tmp/docker-mailserver/receipts@viktorbarzin.me.dovecot.sieve");
    expect(mountPaths(ms)).toContain(MOUNT_PATH);
  });

  it("sees a mount the owner's stack took away (its nightly apply), on refresh and on a plain diff", async () => {
    const ms = await production();
    const { outs } = await provider.create(props(ms));
    const at = mountPaths(ms).indexOf(MOUNT_PATH);
    kubectl([
      "-n",
      ms.namespace,
      "patch",
      "deployment",
      ms.deployment,
      `--field-manager=${TERRAFORM_MANAGER}`,
      "--type=json",
      "-p",
      JSON.stringify([{ op: "remove", path: `/spec/template/spec/containers/0/volumeMounts/${at}` }]),
    ]);
    expect((await provider.read!("id", outs)).props).toMatchObject({ mounts: [] });
    expect(await provider.diff!("id", outs, props(ms))).toEqual({ changes: true });
    await provider.update!("id", outs, props(ms));
    expect(mountPaths(ms)).toContain(MOUNT_PATH);
  });

  it("a preview's check and diff share one GET of the Deployment; after our own apply the next diff reads it afresh", async () => {
    const ms = await production();
    const { outs } = await provider.create(props(ms));
    const proxy = await startFaultProxy(api.server, { ca: readFileSync(api.caFile) });
    try {
      const viaProxy = deploymentMountsProvider(async () => ({
        server: proxy.url,
        options: { headers: { authorization: `Bearer ${api.token}` } },
      }));
      const path = `/apis/apps/v1/namespaces/${ms.namespace}/deployments/${ms.deployment}`;
      forgetProcessMemory(); // a new operation, as the engine starts one per preview
      expect((await viaProxy.check!(outs, props(ms))).failures).toEqual([]);
      expect(await viaProxy.diff!("id", outs, props(ms))).toEqual({ changes: false });
      expect(proxy.count("GET", path)).toBe(1);
      // Our own apply (a second mailbox's mount): a diff after it must see that mount, not the memo.
      const two = props(ms, [mailbox, receipts]);
      await viaProxy.update!("id", outs, two);
      expect(await viaProxy.diff!("id", two, two)).toEqual({ changes: false });
      expect(proxy.count("GET", path)).toBe(2);
    } finally {
      await proxy.close();
    }
  });

  it("delete gives up exactly our fields: the owner's mounts and the co-owned search annotation stay", async () => {
    const ms = await production();
    const before = live(ms);
    const { outs } = await provider.create(props(ms));
    await provider.delete!("id", outs);
    const after = live(ms);
    expect(after.spec.template.spec).toEqual(before.spec.template.spec);
    expect(after.metadata.annotations["reloader.stakater.com/search"]).toBe("true");
    expect(managers(ms)).not.toContain(DEPLOYMENT_FIELD_MANAGER);
    await provider.delete!("id", outs); // again: nothing of ours is left, not an error
  });
});
