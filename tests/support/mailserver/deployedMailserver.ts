// docker-mailserver as its pod runs after `pulumi up`: the program's account lines, self-aliases
// and sieves beside the domain's catch-all (another owner's line), and the folder paperless moves
// mail to, made as the program's SieveFilter command makes it.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { processedFolderCommand } from "../../../core/mailboxCommands";
import type { IngestConfig } from "../../../core/types";
import { startMailserver, type Mailserver } from "./mailserver";
import { type Credentials, podFiles } from "./programFiles";

/** Starts it under `root` (its files, mail volume and instance); the caller stops it. */
export async function deployedMailserver(root: string, config: IngestConfig, credentials: Credentials): Promise<Mailserver> {
  const domains = [...new Set(config.mailboxes.map((m) => m.domain))];
  const pod = podFiles(root, config, { accounts: "", virtual: domains.map((d) => `@${d} spam@${d}\n`).join("") }, credentials, true);
  const mailDir = join(root, "mail");
  mkdirSync(mailDir);
  const mail = await startMailserver({
    version: "v15.1.0",
    configDir: pod.configDir,
    mounts: pod.mounts,
    mailDir,
    instanceDir: join(root, "pod"),
  });
  for (const mailbox of config.mailboxes) {
    const made = await mail.exec(processedFolderCommand(mailbox));
    if (made.code !== 0) throw new Error(`creating ${mailbox.address}'s ${mailbox.processedFolder} folder failed: ${made.stderr}`);
  }
  return mail;
}
