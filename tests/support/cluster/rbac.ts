// Roles as a user applies them (`kubectl apply -f`), bound to a ServiceAccount: how the tests give
// the program exactly the rights the rendered Role lists, or that Role with a right taken away.
import { execFile } from "node:child_process";
import { parseAllDocuments, stringify } from "yaml";

interface RoleDocument {
  kind: string;
  metadata: { name: string; namespace: string };
  rules: { apiGroups: string[]; resources: string[]; resourceNames?: string[]; verbs: string[] }[];
}

/** The Role documents of a multi-document YAML text (comments and other kinds left out). */
export function roles(yamlText: string): RoleDocument[] {
  return parseAllDocuments(yamlText)
    .map((d) => d.toJS() as RoleDocument | null)
    .filter((d): d is RoleDocument => d?.kind === "Role");
}

/**
 * The same Roles without `verbs` on `resource`, as YAML: in every rule on it, or with `names` only
 * in the rule with exactly those resourceNames.
 */
export function withoutRight(yamlText: string, taken: { resource: string; verbs: string[]; names?: readonly string[] }): string {
  const { resource, verbs, names } = taken;
  const hit = (r: RoleDocument["rules"][number]) =>
    r.resources.includes(resource) && (!names || JSON.stringify(r.resourceNames) === JSON.stringify(names));
  const changed = roles(yamlText).map((role) => ({
    ...role,
    rules: role.rules
      .map((r) => (hit(r) ? { ...r, verbs: r.verbs.filter((v) => !verbs.includes(v)) } : r))
      .filter((r) => r.verbs.length > 0),
  }));
  if (JSON.stringify(changed) === JSON.stringify(roles(yamlText))) throw new Error(`no rule grants ${verbs.join(", ")} on ${resource}`);
  return changed.map((r) => stringify(r)).join("---\n");
}

function kubectl(bin: string, kubeconfig: string, args: string[], input: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(bin, ["--kubeconfig", kubeconfig, ...args], (err, _out, stderr) =>
      err ? reject(new Error(`kubectl ${args.join(" ")}: ${stderr || err.message}`)) : resolve(),
    );
    child.stdin!.end(input);
  });
}

export async function bindRoles(
  bin: string,
  kubeconfig: string,
  rolesYaml: string,
  subject: { namespace: string; name: string },
): Promise<void> {
  const docs = roles(rolesYaml);
  // `apply`, not create: applying again replaces the rules (a right taken away is gone).
  await kubectl(bin, kubeconfig, ["apply", "-f", "-"], docs.map((d) => stringify(d)).join("---\n"));
  const bindings = docs.map((role) => ({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: `${role.metadata.name}-${subject.name}`, namespace: role.metadata.namespace },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
    subjects: [{ kind: "ServiceAccount", namespace: subject.namespace, name: subject.name }],
  }));
  await kubectl(bin, kubeconfig, ["apply", "-f", "-"], bindings.map((b) => stringify(b)).join("---\n"));
}
