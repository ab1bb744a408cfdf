// The Kubernetes rights check (providers/kubernetes/kubernetesRights.ts) against a real
// kube-apiserver with RBAC, as a ServiceAccount bound to the Role `npm run render` writes: every
// right of that Role taken away is named, with what needs it and the fix; destroy asks only for
// what destroy uses. That the Role is enough for the whole lifecycle is tests/stack's proof.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { kubernetesRole, kubernetesRules, type KubeRule } from "../../core/kubernetesRights";
import type { KubeTarget } from "../../core/kubeTarget";
import { kubernetesRightsProvider, type KubernetesRightsProps } from "../../providers/kubernetes/kubernetesRights";
import { binary } from "../support/cluster/binaries";
import { adminRequest, serviceAccountKubeconfig, startKubeApi, type KubeApi } from "../support/cluster/kubeApi";
import { bindRoles, roles, withoutRight } from "../support/cluster/rbac";
import { prodConfig } from "../support/prodConfig";

jest.setTimeout(120_000);

const config = prodConfig();
const receipts = { ...config.mailboxes[0]!, address: "receipts@viktorbarzin.me", localPart: "receipts" };
const ROLE = kubernetesRole(config);

let dir: string;
let api: KubeApi;
let deployer: KubeTarget;
// As connect() would reach the API server with that kubeconfig: its server, CA and token.
const provider: pulumi.dynamic.ResourceProvider = kubernetesRightsProvider(async (target) => ({
  server: api.server,
  options: {
    ca: readFileSync(api.caFile),
    headers: { authorization: `Bearer ${JSON.parse(readFileSync(target.kubeconfigPath, "utf8")).users[0].user.token}` },
  },
}));

const props = (cluster: KubeTarget, rules: KubeRule[] = kubernetesRules(config)): KubernetesRightsProps => ({ cluster, rules });
const grant = (yaml: string) => bindRoles(binary("kubectl"), api.kubeconfig, yaml, { namespace: "default", name: "deployer" });

/** The check's failure text once RBAC has taken the last grant in (it follows a Role's change a moment later). */
async function failureOnce(
  expected: (reason: string) => boolean,
  olds: Partial<KubernetesRightsProps> = {},
  news = props(deployer),
): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const reason = (await provider.check!(olds, news)).failures?.map((f) => f.reason).join("\n") ?? "";
    if (expected(reason) || Date.now() > deadline) return reason;
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kubernetes-rights-"));
  api = await startKubeApi(dir, { controllerManager: false });
  for (const name of ["mailserver", "paperless-ngx"]) {
    const created = await adminRequest(api, "POST", "/api/v1/namespaces", { metadata: { name } });
    if (created.status !== 201) throw new Error(`namespace ${name}: ${created.body}`);
  }
  deployer = {
    kubeconfigPath: await serviceAccountKubeconfig(api, "default", "deployer", join(dir, "deployer.kubeconfig")),
    kubeconfigText: "",
    context: "",
  };
});
afterAll(async () => {
  await api?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("the Kubernetes rights check", () => {
  it("passes for the rendered Role and for the cluster's administrator", async () => {
    await grant(ROLE);
    expect(await failureOnce((r) => r === "")).toBe("");
    expect((await provider.check!({}, props({ kubeconfigPath: api.kubeconfig, kubeconfigText: "", context: "" }))).failures).toEqual([]);
    await expect(provider.delete!("mailserver", props(deployer))).resolves.toBeUndefined();
  });

  it("names every right of the Role taken away, with what needs it and the fix", async () => {
    const [role] = roles(ROLE);
    const rights = role!.rules.flatMap((rule) =>
      rule.verbs.map((verb) => ({ resource: rule.resources[0]!, verb, names: rule.resourceNames })),
    );
    expect(rights).toHaveLength(14);
    for (const { resource, verb, names } of rights) {
      await grant(withoutRight(ROLE, { resource, verbs: [verb], ...(names ? { names } : {}) }));
      const reason = await failureOnce((r) => r !== "");
      expect(reason).toMatch(
        /^Kubernetes: the identity of .*deployer\.kubeconfig, its current context may not do what `pulumi up` needs; missing:\n {2}- /,
      );
      const [, line] = /\n {2}- (.*)\n/.exec(reason) ?? [];
      const apiGroup = resource === "deployments" ? ".apps" : "";
      expect(line).toBe(
        `${verb} ${resource}${apiGroup} in namespace mailserver${names ? ` (${names.map((n) => JSON.stringify(n)).join(", ")})` : ""}: ` +
          kubernetesRules(config).find((r) => r.resource === resource && JSON.stringify(r.names) === JSON.stringify(names))!.why,
      );
      expect(reason).toMatch(
        /apply and bind the Role `npm run render` writes \(kubernetes-role\.yaml; the README's Prerequisites show it\) and run it again$/,
      );
    }
    await grant(ROLE);
  });

  it("at destroy asks only for what destroy uses, and refuses naming what is missing", async () => {
    // Without create and patch on the sieve ConfigMaps `up` cannot work, destroy can.
    const sieve = kubernetesRules(config)[1]!.names!;
    await grant(withoutRight(ROLE, { resource: "configmaps", verbs: ["create", "patch"], names: sieve }));
    expect(await failureOnce((r) => r.includes("create, patch configmaps"))).toContain(
      "- create, patch configmaps in namespace mailserver",
    );
    await expect(provider.delete!("mailserver", props(deployer))).resolves.toBeUndefined();
    await grant(withoutRight(ROLE, { resource: "configmaps", verbs: ["list", "watch"] }));
    await failureOnce((r) => r !== "");
    await expect(provider.delete!("mailserver", props(deployer))).rejects.toThrow(
      /may not do what `pulumi destroy` needs; missing:\n {2}- list, watch configmaps in namespace mailserver: the Kubernetes provider confirms a delete/,
    );
    await grant(ROLE);
  });

  it("for an up that removes a mailbox, asks for what deleting its objects needs, until that up is done", async () => {
    await grant(ROLE);
    const before = props(deployer, kubernetesRules({ ...config, mailboxes: [...config.mailboxes, receipts] }));
    const reason = await failureOnce((r) => r !== "", before);
    expect(reason).toContain('- get, delete configmaps in namespace mailserver ("mailserver-sieve-receipts-at-viktorbarzin.me")');
    expect(reason).toContain("the objects of a mailbox being removed stay in the Role until this `up` has deleted them");
  });

  it("with paperless.fetchAfterChange, asks for nothing more: the mailserver's Role is enough (the fetch goes through paperless's API)", async () => {
    const fetching = { ...config, paperless: { ...config.paperless, fetchAfterChange: true } };
    expect(kubernetesRules(fetching)).toEqual(kubernetesRules(config));
    await grant(kubernetesRole(fetching));
    expect(await failureOnce((r) => r === "", {}, props(deployer, kubernetesRules(fetching)))).toBe("");
  });
});
