// Shell text run inside the docker-mailserver container (plain POSIX sh). Kept pure so the
// same strings are exercised against a real Dovecot in tests/mailpath.
import { inDir } from "./names";
import type { Mailbox, MailserverSettings } from "./types";

/** Single-quote for POSIX sh. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Create and subscribe the folder the paperless rules MOVE consumed mail into: paperless fails a
 * MOVE whose target is missing. Idempotent: an existing folder is accepted, any other failure is not.
 */
export function processedFolderCommand(mailbox: Mailbox, doveadm = "doveadm"): string {
  const user = shellQuote(mailbox.address);
  const folder = shellQuote(mailbox.processedFolder);
  return `{ ${doveadm} mailbox create -u ${user} ${folder} 2>/dev/null || ${doveadm} mailbox status -u ${user} messages ${folder} >/dev/null; }`
    + ` && ${doveadm} mailbox subscribe -u ${user} ${folder}`;
}

/** `<mailRoot>/<domain>/<localpart>/home`: where docker-mailserver installs the user's active sieve. */
export function sieveHome(mailbox: Mailbox, mailserver: MailserverSettings): string {
  return inDir(mailserver.mailRoot, mailbox.domain, mailbox.localPart, "home");
}

/**
 * docker-mailserver copies the sieve once onto the mail volume and never deletes it, so a rollback
 * must remove the copy and its compiled form itself. Only those two files: the mail is the user's.
 */
export function sieveRemovalCommand(mailbox: Mailbox, mailserver: MailserverSettings): string {
  const home = sieveHome(mailbox, mailserver);
  return `rm -f -- ${shellQuote(`${home}/.dovecot.sieve`)} ${shellQuote(`${home}/.dovecot.svbin`)}`;
}

/**
 * The cluster, as the kubeconfig names it: the context the Kubernetes provider uses
 * (`kubernetes:context`), "" for the current one. Built once per mailbox (PaperlessMailIngest) and
 * handed to every resource that talks to the cluster, in the form their inputs store it.
 */
export interface KubeTarget {
  readonly context: string;
}

export function kubeTarget(context?: string): KubeTarget {
  return { context: context ?? "" };
}

/** A container of a Deployment, reached with kubectl from where `pulumi` runs. */
export interface PodTarget extends KubeTarget {
  readonly namespace: string;
  readonly deployment: string;
  readonly container: string;
}

/** The container of the mailserver or paperless settings, in that cluster. */
export function podTarget(kube: KubeTarget, where: { namespace: string; deployment: string; container: string }): PodTarget {
  return { context: kube.context, namespace: where.namespace, deployment: where.deployment, container: where.container };
}

function kubectl(target: PodTarget): string {
  return `kubectl${target.context ? ` --context ${shellQuote(target.context)}` : ""} -n ${shellQuote(target.namespace)}`;
}

/** `kubectl exec` of argv (no shell in between) in the target container. */
export function kubectlExec(target: PodTarget, argv: readonly string[]): string {
  return `${kubectl(target)} exec deploy/${shellQuote(target.deployment)} -c ${shellQuote(target.container)} -- ${argv.map(shellQuote).join(" ")}`;
}

/**
 * Run `script` with sh in the target container once the Deployment has rolled out, retrying:
 * our own ConfigMap edits make Reloader restart the pod just when these commands run.
 */
export function execWhenRolledOut(target: PodTarget, script: string, attempts = 10, pauseSeconds = 15): string {
  return `i=0; until ${kubectl(target)} rollout status deploy/${shellQuote(target.deployment)} --timeout=300s`
    + ` && ${kubectlExec(target, ["sh", "-c", script])};`
    + ` do i=$((i+1)); if [ "$i" -ge ${attempts} ]; then exit 1; fi; sleep ${pauseSeconds}; done`;
}
