// The mailserver side, read from the Kubernetes API and from inside the running pod: the Deployment
// rolled out and its pod Ready; the sieve the pod installed is the ConfigMap's and the stack's, and
// compiles with the pod's own sievec; the account and alias blocks are in the live ConfigMap and in
// the files the pod started from, and the account line hashes the password in Vault.
import { createHash } from "node:crypto";
import { accountLine } from "../../core/accountLine";
import { selfAliasLine } from "../../core/aliasLine";
import { readOwnedLines } from "../../core/ownedLines";
import { RELOADER_SEARCH } from "../../core/deploymentPatch";
import { RELOADER_MATCH, reloaderEnvVar } from "../../core/sieveConfigMap";
import type { Mailbox } from "../../core/types";
import type { ConfigMapObject } from "../../providers/kubernetes/kubeClient";
import { type Check, eachMailbox, passed, type Problem, problems, verdict } from "../check";
import type { DoctorContext } from "../context";
import { type Deployment, reloaderHash } from "../kubeReads";
import { isReady, notReady } from "../podReadiness";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const short = (hash: string | undefined) => (hash ? `${hash.slice(0, 12)}…` : "none");

/** Where Reloader's last roll of the Deployment for a ConfigMap stands, in one sentence. */
export function reloaderStory(ctx: DoctorContext, dep: Deployment, cm: ConfigMapObject): string {
  const ms = ctx.config.mailserver;
  const variable = reloaderEnvVar(cm.metadata.name);
  const container = dep.spec.template.spec.containers.find((c) => c.name === ms.container);
  const rolledFor = container?.env?.find((e) => e.name === variable)?.value;
  const annotation = dep.spec.template.metadata?.annotations?.["reloader.stakater.com/last-reloaded-from"];
  const now = reloaderHash(cm);
  if (rolledFor === now || (annotation !== undefined && annotation.includes(now))) {
    return `Reloader did roll deploy/${ms.deployment} for this version of ConfigMap ${cm.metadata.name} (${variable}=${short(now)}), but the pod serving now predates it: the rollout has not finished`;
  }
  const watch = `is Stakater Reloader running and watching namespace ${ms.namespace}, and does deploy/${ms.deployment} still carry reloader.stakater.com/search: "true"?`;
  if (rolledFor === undefined && annotation === undefined) {
    return `Reloader has never rolled deploy/${ms.deployment} for ConfigMap ${cm.metadata.name} (no ${variable} on container ${ms.container}): ${watch}`;
  }
  return `Reloader last rolled deploy/${ms.deployment} for an older version of ConfigMap ${cm.metadata.name} (${variable}=${short(rolledFor ?? annotation)}, the ConfigMap is now ${short(now)}): it missed this change; ${watch}`;
}

const restart = (ctx: DoctorContext) =>
  `\`kubectl -n ${ctx.config.mailserver.namespace} rollout restart deploy/${ctx.config.mailserver.deployment}\` (and fix Reloader, or the next change stalls too)`;

function deploymentReady(ctx: DoctorContext, dep: Deployment | undefined, pods: Awaited<ReturnType<DoctorContext["pods"]>>): Problem[] {
  const ms = ctx.config.mailserver;
  const p = problems("mailserver.deployment-ready");
  const where = `deploy/${ms.deployment} in namespace ${ms.namespace}`;
  if (!dep) return [p.fail(`${where} does not exist`, `check mailserver.namespace and mailserver.deployment in the stack config`)];
  if (!dep.spec.template.spec.containers.some((c) => c.name === ms.container)) {
    return [p.fail(`${where} has no container ${ms.container}`, "check mailserver.container in the stack config")];
  }
  const want = dep.spec.replicas ?? 1;
  const st = dep.status ?? {};
  const live = pods.filter((pod) => !pod.metadata.deletionTimestamp);
  const serving = live.filter(isReady);
  const unready = live.filter((pod) => !isReady(pod));
  const undo = `if a change to the Deployment caused it, undo that where the Deployment is managed (its own stack), or go back to the revision that ran: \`kubectl -n ${ms.namespace} rollout undo deploy/${ms.deployment}\``;
  const found: Problem[] = [];
  const rolling =
    (st.observedGeneration ?? 0) < (dep.metadata.generation ?? 0) || (st.updatedReplicas ?? 0) < want || (st.replicas ?? 0) > want;
  if (rolling || (st.readyReplicas ?? 0) < want) {
    // With strategy Recreate (one pod on the ReadWriteOnce mail volume) the old pod is gone before the new one starts.
    const who = serving.length
      ? `pod(s) ${serving.map((pod) => pod.metadata.name).join(", ")} still serve(s) mail${rolling ? " from the previous template" : ""}`
      : `no pod is Ready, so nothing serves SMTP or IMAP${dep.spec.strategy?.type === "Recreate" ? " (strategy Recreate stopped the old pod first)" : ""}: sending servers queue the mail and retry, paperless fetches nothing`;
    const deadline = st.conditions?.some((c) => c.type === "Progressing" && c.reason === "ProgressDeadlineExceeded")
      ? "; Kubernetes gave up waiting (ProgressDeadlineExceeded)"
      : "";
    found.push(
      p.fail(
        `${where}: ${st.updatedReplicas ?? 0} of ${want} replica(s) updated, ${st.readyReplicas ?? 0} Ready, ${st.replicas ?? 0} pod(s) in all; ${who}${deadline}`,
        `\`kubectl -n ${ms.namespace} rollout status deploy/${ms.deployment}\` shows it finish; if it does not, ${undo}`,
      ),
    );
  }
  for (const pod of unready) {
    const why = notReady(pod, ms.container, ctx.now);
    found.push(
      p.fail(
        `pod ${pod.metadata.name} of ${where} is not Ready: ${why.what}`,
        why.started
          ? `\`kubectl -n ${ms.namespace} logs ${pod.metadata.name} -c ${ms.container}\` says why docker-mailserver does not start`
          : `\`kubectl -n ${ms.namespace} describe pod ${pod.metadata.name}\`: its events say what the container waits for (a volume that cannot be mounted, such as a ConfigMap that does not exist; an image that cannot be pulled); ${undo}`,
      ),
    );
  }
  if (!live.length) found.push(p.fail(`${where} has no running pod`, `\`kubectl -n ${ms.namespace} describe deploy/${ms.deployment}\``));
  return found;
}

async function sieveInstalled(ctx: DoctorContext, mailbox: Mailbox): Promise<Problem[]> {
  const p = problems("mailserver.sieve-installed");
  const ms = ctx.config.mailserver;
  const { name, key } = ctx.sieveObject(mailbox);
  const [cm, dep, state] = await Promise.all([ctx.sieveConfigMap(mailbox), ctx.deployment(), ctx.podState()]);
  const installed = state.get(mailbox.address)!;
  const declared = ctx.stack.outputs?.[mailbox.address]?.sieveSha256;
  const found: Problem[] = [];
  const script = cm?.data?.[key];
  if (script === undefined) {
    found.push(
      p.fail(
        `${mailbox.address}: ConfigMap ${ms.namespace}/${name} ${cm ? `has no key ${key}` : "does not exist"}`,
        "run `pulumi up --refresh`",
      ),
    );
  } else if (declared !== undefined && sha256(script) !== declared) {
    found.push(
      p.fail(
        `${mailbox.address}: ConfigMap ${ms.namespace}/${name} holds a sieve (sha256 ${short(sha256(script))}) other than the stack's ` +
          `(${short(declared)}): it was edited outside Pulumi`,
        "run `pulumi up --refresh`: it writes the declared sieve back and Reloader rolls the mailserver",
      ),
    );
  }
  const home = `${ms.mailRoot}/${mailbox.domain}/${mailbox.localPart}/home/.dovecot.sieve`;
  if (installed.sha256 === undefined) {
    found.push(
      p.fail(
        `${mailbox.address}: the running pod has no ${home}: no filter runs, every sender's mail is kept`,
        `${restart(ctx)}: docker-mailserver installs the sieve at start`,
      ),
    );
  } else if (script !== undefined && installed.sha256 !== sha256(script)) {
    const story = dep && cm ? reloaderStory(ctx, dep, cm) : "";
    found.push(
      p.fail(
        `${mailbox.address}: the running pod's ${home} (sha256 ${short(installed.sha256)}) is not ConfigMap ${name}'s (${short(sha256(script))}). ${story}`,
        restart(ctx),
      ),
    );
  }
  return found;
}

async function sieveCompiles(ctx: DoctorContext, mailbox: Mailbox): Promise<Problem[]> {
  const p = problems("mailserver.sieve-compiles");
  const installed = (await ctx.podState()).get(mailbox.address)!;
  if (!installed.compile) return []; // nothing installed: mailserver.sieve-installed says so
  if (installed.compile.ok) return [];
  const first = installed.compile.output
    .split("\n")
    .filter((l) => l.trim())
    .slice(0, 3)
    .join(" | ");
  return [
    p.fail(
      `${mailbox.address}: the installed sieve does not compile with the pod's sievec (${first}): it fails open: every sender's mail is kept`,
      "run `pulumi up --refresh` to install the declared sieve (if the declared one fails, `npm run render` and `sievec` on it show why)",
    ),
  ];
}

/** Our blocks in the live ConfigMap, in the files the pod started from, and the account line against the Vault password. */
async function accountLive(ctx: DoctorContext, mailbox: Mailbox): Promise<Problem[]> {
  const p = problems("mailserver.account-live");
  const ms = ctx.config.mailserver;
  const [cm, dep, state] = await Promise.all([ctx.sharedConfigMap(), ctx.deployment(), ctx.podState()]);
  const where = `ConfigMap ${ms.namespace}/${ms.configMap}`;
  if (!cm)
    return [p.fail(`${where} does not exist`, "it belongs to the mailserver's own stack; restore it, then run `pulumi up --refresh`")];
  const found: Problem[] = [];
  const read = (k: string) => {
    try {
      return readOwnedLines(cm.data?.[k] ?? "", mailbox.address);
    } catch (e) {
      found.push(p.fail(`${where} key ${k}: ${(e as Error).message}`, "repair the markers by hand, then run `pulumi up --refresh`"));
      return undefined;
    }
  };
  const accounts = read(ms.accountsKey);
  const virtual = read(ms.virtualKey);
  const alias = selfAliasLine(mailbox.address);
  if (accounts === undefined || accounts.length !== 1) {
    found.push(
      p.fail(
        `${mailbox.address}: ${where} key ${ms.accountsKey} has ${accounts === undefined ? "no block" : `${accounts.length} lines in the block`} of this mailbox: the mailbox does not exist after the next mailserver restart`,
        "run `pulumi up --refresh`: it writes the block back",
      ),
    );
  } else {
    const salt = /^[^|]+\|\{SHA512-CRYPT\}\$6\$([./0-9A-Za-z]{16})\$/.exec(accounts[0]!)?.[1];
    const password = await ctx.password(mailbox);
    if (!salt || accountLine(mailbox.address, password, salt) !== accounts[0]) {
      found.push(
        p.fail(
          `${mailbox.address}: the account line in ${where} does not hash the password in Vault: paperless and the mailserver disagree on the password`,
          "run `pulumi up --refresh`: it writes the line from the Vault password",
        ),
      );
    }
  }
  if (virtual === undefined || virtual.length !== 1 || virtual[0] !== alias) {
    found.push(
      p.fail(
        `${mailbox.address}: ${where} key ${ms.virtualKey} lacks the self-alias \`${alias}\`: the domain's catch-all takes the mail`,
        "run `pulumi up --refresh`: it writes the block back",
      ),
    );
  }
  // The pod's files against the ConfigMap's, a block missing on either side included: what the
  // pod does now is not what it will do after its next restart.
  const pod = state.get(mailbox.address)!;
  const same = (a: readonly string[] | undefined, b: readonly string[] | undefined) =>
    JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  const stale = [
    ...(same(pod.accountsBlock, accounts) ? [] : [ms.accountsKey]),
    ...(same(pod.virtualBlock, virtual) ? [] : [ms.virtualKey]),
  ];
  if (stale.length) {
    found.push(
      p.fail(
        `${mailbox.address}: the running pod started from other ${stale.join(" and ")} lines than ${where} holds now. ${dep ? reloaderStory(ctx, dep, cm) : ""}`,
        restart(ctx),
      ),
    );
  }
  return found;
}

/** Will Reloader roll the mailserver when one of our ConfigMaps changes? The annotations it goes by (docs/mailserver.md). */
async function reloaderWatching(ctx: DoctorContext): Promise<Problem[]> {
  const p = problems("mailserver.reloader");
  const ms = ctx.config.mailserver;
  const [dep, shared, ...sieves] = await Promise.all([
    ctx.deployment(),
    ctx.sharedConfigMap(),
    ...ctx.config.mailboxes.map((m) => ctx.sieveConfigMap(m)),
  ]);
  const found: Problem[] = [];
  const search = dep?.metadata.annotations?.[RELOADER_SEARCH];
  if (dep && search !== "true") {
    found.push(
      p.fail(
        `deploy/${ms.deployment} carries ${RELOADER_SEARCH}: ${JSON.stringify(search ?? null)}, not "true": Reloader does not restart the mailserver when a sieve or the account lines change, so a sender added or removed takes effect only at the next restart`,
        `set ${RELOADER_SEARCH}: "true" again where the Deployment is managed (its own stack), then run \`pulumi up --refresh\``,
      ),
    );
  }
  for (const cm of [shared, ...sieves]) {
    const match = cm?.metadata.annotations?.[RELOADER_MATCH];
    if (cm && match !== "true") {
      found.push(
        p.fail(
          `ConfigMap ${ms.namespace}/${cm.metadata.name} carries ${RELOADER_MATCH}: ${JSON.stringify(match ?? null)}, not "true": Reloader ignores its changes`,
          cm === shared
            ? `set ${RELOADER_MATCH}: "true" again where the ConfigMap is managed (the mailserver's own stack)`
            : "run `pulumi up --refresh`: it writes the annotation back",
        ),
      );
    }
  }
  return found;
}

export const mailserverChecks: Check<DoctorContext>[] = [
  {
    id: "mailserver.deployment-ready",
    group: "mailserver",
    description: "the mailserver Deployment is rolled out and its pod is Ready",
    async run(ctx) {
      const [dep, pods] = await Promise.all([ctx.deployment(), ctx.pods()]);
      const found = deploymentReady(ctx, dep, pods);
      return found.length ? verdict(found) : passed(`${pods.length} pod(s)`);
    },
  },
  {
    id: "mailserver.reloader",
    group: "mailserver",
    description: "Reloader restarts the mailserver when a sieve or the account lines change",
    async run(ctx) {
      return verdict(await reloaderWatching(ctx));
    },
  },
  {
    id: "mailserver.sieve-installed",
    group: "mailserver",
    description: "the running pod has installed the declared sieve of every mailbox (stack output = ConfigMap = pod)",
    needs: ["mailserver.deployment-ready"],
    run: eachMailbox(sieveInstalled),
  },
  {
    id: "mailserver.sieve-compiles",
    group: "mailserver",
    description: "the installed sieve compiles with the pod's own sievec",
    needs: ["mailserver.deployment-ready"],
    run: eachMailbox(sieveCompiles),
  },
  {
    id: "mailserver.account-live",
    group: "mailserver",
    description: "the account and self-alias lines are in the live ConfigMap and in the files the pod started from",
    needs: ["mailserver.deployment-ready"],
    run: eachMailbox(accountLive),
  },
];
