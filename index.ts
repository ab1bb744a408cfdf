// paperless-mail-ingest: one PaperlessMailIngest per ingest mailbox, all from the stack's one
// validated sender list, then what the mailboxes share: the mailserver Deployment patch that
// mounts every sieve, and the optional fetch. The stack is read here, once (stack/): a bad config
// fails listing every problem before any resource exists, and the one Kubernetes, Vault and
// command provider are handed to the children that need them.
import * as pulumi from "@pulumi/pulumi";
import { mailboxResourceName } from "./core/names";
import { kubernetesRules } from "./core/kubernetesRights";
import { commandProvider } from "./stack/commandConnection";
import { clusterInput, kubernetesProvider, readKubeTarget } from "./stack/kubernetesConnection";
import { MailFetchTrigger } from "./components/mailFetchTrigger";
import { PaperlessMailIngest } from "./components/paperlessMailIngest";
import { readProgramConfig } from "./stack/programConfig";
import { SieveRollout } from "./components/sieveRollout";
import { readVaultConnection, vaultProvider } from "./stack/vaultConnection";
import { KubernetesRights } from "./providers/kubernetes/resources";

const program = readProgramConfig();
const { mailserver, paperless } = program.config;
const kube = readKubeTarget();
const cluster = kubernetesProvider("mailserver-cluster", kube);
const vaultConnection = readVaultConnection();
const vault = vaultProvider("vault");
const commands = commandProvider("command");

const ingests = program.config.mailboxes.map((mailbox) => {
  const password = program.mailboxPassword(mailbox.address);
  const ingest = new PaperlessMailIngest(mailboxResourceName(mailbox), {
    mailbox,
    config: program.config,
    ...(password ? { password } : {}),
    kube,
    kubernetesProvider: cluster,
    vaultConnection,
    vaultProvider: vault,
    commandProvider: commands,
  });
  return { mailbox, ingest };
});

const rollout = new SieveRollout("mailserver", {
  mailboxes: ingests.map(({ mailbox, ingest }) => ({ mailbox, sieve: ingest.sieve, accountLine: ingest.account.line })),
  mailserver,
  kube,
  commandProvider: commands,
});

const fetch = new MailFetchTrigger(
  "paperless-fetch",
  {
    paperless,
    accounts: ingests.map(({ mailbox }) => mailbox.accountName),
    rulesFingerprint: pulumi.all(ingests.map(({ ingest }) => ingest.rulesFingerprint)).apply((prints) => prints.join(",")),
  },
  { dependsOn: [...ingests.map(({ ingest }) => ingest.paperless), ...Object.values(rollout.ready)] },
);

// Last, after everything else: its check fails the preview naming every Kubernetes right the
// identity lacks, and at destroy it is deleted first, so a missing right stops the destroy before
// anything is gone (never a silent wait half-way).
new KubernetesRights(
  "kubernetes-rights",
  { cluster: clusterInput(kube), rules: kubernetesRules(program.config) },
  { dependsOn: [...ingests.map(({ ingest }) => ingest), rollout, fetch], additionalSecretOutputs: ["cluster"] },
);

/** Per mailbox: sender -> owner, the paperless rule ids, the sieve's content hash, the Vault path,
 * the paperless objects a destroy leaves in place. */
export const mailboxes = Object.fromEntries(
  ingests.map(({ mailbox, ingest }) => [
    mailbox.address,
    {
      senders: ingest.senders,
      ruleIds: ingest.ruleIds,
      sieveSha256: ingest.sieve.sieveHash,
      vaultPath: ingest.vaultPath,
      keptAtDestroy: ingest.keptAtDestroy,
    },
  ]),
);
