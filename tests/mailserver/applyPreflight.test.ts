import type * as pulumi from "@pulumi/pulumi";
import { DEPLOYMENT_FIELD_MANAGER, sieveDeploymentPatch } from "../../core/sieveMount";
import { ApplyPreflightProps, applyPreflightProvider } from "../../providers/kubernetes/applyPreflight";
import { KubeApiEmulator } from "./kubeApiEmulator";
import { prodConfig } from "../support/prodConfig";

const config = prodConfig();
const mailbox = config.mailboxes[0]!;
const PATH = "/apis/apps/v1/namespaces/mailserver/deployments/mailserver";
const MOUNT_PATH = "/tmp/docker-mailserver/docs@viktorbarzin.me.dovecot.sieve";
const patch = sieveDeploymentPatch([mailbox], config.mailserver);
const fieldManager = DEPLOYMENT_FIELD_MANAGER;
const props = (over: Partial<ApplyPreflightProps> = {}): ApplyPreflightProps =>
  ({ path: PATH, body: patch, fieldManager, context: "", ...over });

// What the Terraform stack applies today (design §1): the sieve from mailserver.config at the same path.
const terraformToday = {
  metadata: { annotations: { "reloader.stakater.com/search": "true" } },
  spec: { template: { spec: {
    volumes: [{ name: "config", configMap: { name: "mailserver.config" } }],
    containers: [{ name: "docker-mailserver", volumeMounts: [
      { name: "config", mountPath: "/tmp/docker-mailserver/postfix-accounts.cf", subPath: "postfix-accounts.cf", readOnly: true },
      { name: "config", mountPath: MOUNT_PATH, subPath: "docs-at-viktorbarzin.me.dovecot.sieve", readOnly: true },
    ] }],
  } } },
};

let emu: KubeApiEmulator;
let provider: pulumi.dynamic.ResourceProvider;
beforeEach(async () => {
  emu = await new KubeApiEmulator().start();
  provider = applyPreflightProvider(async () => ({ server: emu.url, options: {} }));
});
afterEach(() => emu.stop());

describe("ApplyPreflight: the sieve mount patch, dry-run applied at preview", () => {
  it("fails while the Terraform stack still mounts its own sieve there, naming Terraform and the field", async () => {
    emu.putDeployment("mailserver", "mailserver", "Terraform", terraformToday);
    const { failures } = await provider.check!(props(), props());
    expect(failures).toHaveLength(1);
    expect(failures![0]!.reason).toContain(`conflict with "Terraform" using apps/v1: .spec.template.spec.containers[name="docker-mailserver"].volumeMounts[mountPath="${MOUNT_PATH}"].name`);
    expect(failures![0]!.reason).toMatch(/^server-side apply \(dry run\) of \/apis\/apps\/v1\/namespaces\/mailserver\/deployments\/mailserver as paperless-mail-ingest: HTTP 409 Conflict/);
  });

  it("passes once that mount is handed over; the equal search annotation is shared, not a conflict", async () => {
    const handedOver = structuredClone(terraformToday);
    handedOver.spec.template.spec.containers[0]!.volumeMounts.pop();
    emu.putDeployment("mailserver", "mailserver", "Terraform", handedOver);
    emu.putDeployment("mailserver", "mailserver", "kubectl-edit", { metadata: { annotations: { "reloader.stakater.com/search": "true" } } });
    expect((await provider.check!(props(), props())).failures).toEqual([]);
    expect(emu.requests).toEqual([{ method: "PATCH", path: `${PATH}?dryRun=All&fieldManager=${fieldManager}`, fieldManager }]);
  });

  it("does not conflict with its own earlier apply (same field manager)", async () => {
    emu.putDeployment("mailserver", "mailserver", fieldManager, { ...patch, spec: { template: { spec: { volumes: [{ name: "sieve-docs-at-viktorbarzin-me", configMap: { name: "old" } }] } } } });
    expect((await provider.check!(props(), props())).failures).toEqual([]);
  });

  it("fails, naming the Deployment, when it does not exist", async () => {
    const { failures } = await provider.check!(props(), props());
    expect(failures).toEqual([{ property: "body", reason: expect.stringContaining(`HTTP 404 NotFound: deployments.apps "mailserver" not found`) }]);
  });
});
