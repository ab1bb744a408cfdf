// The Kubernetes Role `npm run render` writes: one source for the file, the README's
// Prerequisites and the rights the preview checks (core/kubernetesRights.ts). That it is enough,
// and that nothing in it is unused, is proved by the whole-program suite (tests/stack), which
// deploys as a ServiceAccount bound to it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { kubernetesRole, kubernetesRules, rightsFor } from "../../core/kubernetesRights";
import { readStackFile } from "../../stack/stackConfig";
import { PROD_STACK_FILE, prodConfig } from "../support/prodConfig";

const README = readFileSync(join(__dirname, "..", "..", "README.md"), "utf8");
const TWO_MAILBOXES = join(__dirname, "..", "fixtures", "stacks", "Pulumi.two-mailboxes.yaml");

/** The yaml block of the README's Prerequisites, without its list indentation. */
function readmeRole(): string {
  const prerequisites = README.slice(README.indexOf("## Prerequisites"), README.indexOf("## Configuration"));
  const block = /\n {2}```yaml\n([\s\S]*?)\n {2}```\n/.exec(prerequisites);
  if (!block) throw new Error("README Prerequisites: no yaml block");
  return block[1]!
    .split("\n")
    .map((l) => l.replace(/^ {2}/, ""))
    .join("\n");
}

describe("the Kubernetes Role", () => {
  it("is in the README exactly as rendered for Pulumi.prod.yaml", () => {
    const rendered = kubernetesRole(readStackFile(PROD_STACK_FILE).config);
    expect(rendered.slice(rendered.indexOf("---\n") + 4).trimEnd()).toBe(readmeRole());
  });

  it("is one Role per namespace, naming the shared ConfigMap, each mailbox's sieve ConfigMap and the Deployment", () => {
    const config = readStackFile(TWO_MAILBOXES).config;
    const docs = parseAllDocuments(kubernetesRole(config))
      .map((d) => d.toJS())
      .filter(Boolean);
    expect(docs.map((d) => `${d.kind} ${d.metadata.namespace}/${d.metadata.name}`)).toEqual(["Role mailserver/paperless-mail-ingest"]);
    const names = docs[0].rules.flatMap((r: { resourceNames?: string[] }) => r.resourceNames ?? []);
    expect(names).toEqual([
      "mailserver.config",
      "mailserver-sieve-docs-at-viktorbarzin.me",
      "mailserver-sieve-receipts-at-viktorbarzin.me",
      "mailserver",
    ]);
    // The optional fetch goes through paperless's API: no Role in paperless's namespace.
    const fetching = { ...config, paperless: { ...config.paperless, fetchAfterChange: true } };
    expect(
      parseAllDocuments(kubernetesRole(fetching))
        .map((d) => d.toJS()?.metadata?.namespace)
        .filter(Boolean),
    ).toEqual(["mailserver"]);
  });

  it("grants up's verbs, which hold destroy's and the doctor's (read-only, plus exec in the mailserver)", () => {
    const rules = kubernetesRules(prodConfig());
    const key = (r: { namespace: string; resource: string; verb: string; name?: string }) =>
      `${r.namespace} ${r.verb} ${r.resource} ${r.name ?? "*"}`;
    const up = new Set(rightsFor(rules, "up").map(key));
    for (const use of ["destroy", "doctor"] as const) for (const r of rightsFor(rules, use)) expect(up).toContain(key(r));
    expect(
      rightsFor(rules, "doctor")
        .filter((r) => !["get", "list", "watch"].includes(r.verb))
        .map(key),
    ).toEqual(["mailserver create pods/exec *"]);
  });
});
