// The names the stack gives things, checked against the rules of the place that holds them:
// Kubernetes object names and ConfigMap keys by Kubernetes' rules, file names by the file
// system's. The names derived from mailbox addresses are also checked for two mailboxes that
// would share one: Kubernetes names hold no '@' (docs@d becomes docs-at-d), a volume name no '.',
// an environment variable name neither '.' nor '-', so two addresses can map to one name; their
// objects would then be one, and destroying one mailbox would remove the other's.
import { aliasBlockFile, configMapFile, deploymentPatchFile, MAILSERVER_DIR } from "./artifacts";
import { show } from "./displayText";
import { mailboxResourceName } from "./names";
import { sieveFileName } from "./sieve";
import { reloaderEnvVar, sieveNames } from "./sieveConfigMap";
import type { IngestConfig } from "./types";

export interface NameRule {
  /** In bytes (the Kubernetes names are ASCII, so also in characters). */
  readonly max: number;
  readonly pattern: RegExp;
  /** What the rule asks, completing "must be …". */
  readonly what: string;
}

const LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
export const DNS_LABEL: NameRule = {
  max: 63,
  pattern: new RegExp(`^${LABEL}$`),
  what: "a DNS label (RFC 1123): at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit",
};
export const DNS_SUBDOMAIN: NameRule = {
  max: 253,
  pattern: new RegExp(`^${LABEL}(\\.${LABEL})*$`),
  what: "a DNS subdomain (RFC 1123): at most 253 characters, lower-case letters, digits, '-' and '.', each part between dots starting and ending with a letter or digit",
};
export const CONFIGMAP_KEY: NameRule = {
  max: 253,
  pattern: /^(?!\.\.?$)[-._a-zA-Z0-9]+$/,
  what: "a ConfigMap key: at most 253 letters, digits, '-', '_' and '.', not '.' or '..'",
};
// NAME_MAX of Linux file systems.
const FILE_NAME: NameRule = { max: 255, pattern: /^[^/\0]+$/, what: "a file name of at most 255 bytes" };

/** "must be <what>" when `name` breaks the rule (with its length when that is what breaks it), else undefined. */
export function ruleBroken(rule: NameRule, name: string): string | undefined {
  const length = Buffer.byteLength(name);
  if (length <= rule.max && rule.pattern.test(name)) return undefined;
  return `must be ${rule.what}${length > rule.max ? ` (it has ${length})` : ""}`;
}

interface Derived {
  readonly where: string;
  readonly value: string;
  readonly kind: string;
  readonly name: string;
  /** Where the name is used, when the kind does not say. */
  readonly usedBy?: string;
  readonly rule: NameRule;
  readonly fix: string;
}

function problem(d: Derived): string | undefined {
  const broken = ruleBroken(d.rule, d.name);
  return (
    broken &&
    `${d.where}: ${show(d.value)} gives the ${d.kind} ${show(d.name)}${d.usedBy ? ` (${d.usedBy})` : ""}, which ${broken}: ${d.fix}`
  );
}

/** Every derived name over its limit, and every pair of mailboxes that would share a name. */
export function derivedNameProblems(config: IngestConfig): string[] {
  const { mailserver } = config;
  const problems: string[] = [];
  const check = (d: Derived) => {
    const p = problem(d);
    if (p) problems.push(p);
  };
  const rendered = `written by npm run render in ${MAILSERVER_DIR}/`;
  check({
    where: "mailserver.deployment",
    value: mailserver.deployment,
    kind: "file name",
    usedBy: rendered,
    name: deploymentPatchFile(mailserver),
    rule: FILE_NAME,
    fix: "use a shorter Deployment name",
  });
  check({
    where: "mailserver.configMap",
    value: mailserver.configMap,
    kind: "file name",
    usedBy: `with mailserver.virtualKey, ${rendered}`,
    name: aliasBlockFile(mailserver),
    rule: FILE_NAME,
    fix: "use a shorter ConfigMap name or key",
  });

  const taken = new Map<string, { index: number; address: string }>();
  config.mailboxes.forEach((mailbox, i) => {
    const where = `mailboxes[${i}].address`;
    const value = mailbox.address;
    const mount = sieveNames(mailbox, mailserver);
    const shorter = "use a shorter address";
    check({
      where,
      value,
      kind: "sieve ConfigMap name",
      name: mount.configMapName,
      rule: DNS_SUBDOMAIN,
      fix: `${shorter} (or mailserver.deployment, its prefix)`,
    });
    check({ where, value, kind: "ConfigMap key", name: mount.key, rule: CONFIGMAP_KEY, fix: shorter });
    check({
      where,
      value,
      kind: "file name",
      usedBy: "the sieve docker-mailserver reads in mailserver.configDir",
      name: sieveFileName(mailbox.address),
      rule: FILE_NAME,
      fix: shorter,
    });
    check({
      where,
      value,
      kind: "file name",
      usedBy: rendered,
      name: configMapFile(mount.configMapName),
      rule: FILE_NAME,
      fix: `${shorter} (or mailserver.deployment, its prefix)`,
    });

    const names: [string, string][] = [
      ["Pulumi resource name", mailboxResourceName(mailbox)],
      ["ConfigMap name", mount.configMapName],
      ["ConfigMap key", mount.key],
      ["volume name", mount.volumeName],
      ["Reloader variable", reloaderEnvVar(mount.configMapName)],
    ];
    const shared = new Map<number, { address: string; names: string[] }>();
    for (const [kind, name] of names) {
      const first = taken.get(`${kind}\0${name}`);
      if (!first) {
        taken.set(`${kind}\0${name}`, { index: i, address: value });
        continue;
      }
      const pair = shared.get(first.index) ?? { address: first.address, names: [] };
      pair.names.push(`${kind} ${show(name)}`);
      shared.set(first.index, pair);
    }
    for (const [j, { address, names: same }] of shared) {
      problems.push(
        `${where}: ${show(value)} gives the same ${same.join(", ")} as mailboxes[${j}].address ${show(address)}: ` +
          "Kubernetes names hold no '@', volume names no '.' and variable names neither '.' nor '-', so the two mailboxes would share these objects " +
          "(destroying one would remove the other's); use another address for one of them",
      );
    }
  });
  return problems;
}
