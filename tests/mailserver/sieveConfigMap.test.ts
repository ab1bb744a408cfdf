// The names the program owns on the mailserver, from core/ (no Pulumi): one derivation, built on atName.
import { atName, inDir } from "../../core/names";
import { sieveHome } from "../../core/mailboxCommands";
import { deploymentMounts, deploymentPatch } from "../../core/deploymentPatch";
import { reloaderEnvVar, sieveNames } from "../../core/sieveConfigMap";
import { prodConfig } from "../support/prodConfig";

const config = prodConfig();
const mailbox = config.mailboxes[0]!;

describe("sieveNames and deploymentPatch (core)", () => {
  it("derives every name from atName(address)", () => {
    const slug = atName(mailbox.address);
    expect(slug).toBe("docs-at-viktorbarzin.me");
    expect(sieveNames(mailbox, config.mailserver)).toEqual({
      configMapName: `mailserver-sieve-${slug}`,
      key: `${slug}.dovecot.sieve`,
      volumeName: "sieve-docs-at-viktorbarzin-me",
      mountPath: "/tmp/docker-mailserver/docs@viktorbarzin.me.dovecot.sieve",
    });
  });

  it("joins configDir and mailRoot the same way with or without trailing slashes", () => {
    expect(inDir("/tmp/docker-mailserver//", "a.sieve")).toBe("/tmp/docker-mailserver/a.sieve");
    const slashed = { ...config.mailserver, configDir: "/tmp/docker-mailserver/", mailRoot: "/var/mail/" };
    expect(sieveNames(mailbox, slashed).mountPath).toBe(sieveNames(mailbox, config.mailserver).mountPath);
    expect(sieveHome(mailbox, slashed)).toBe("/var/mail/viktorbarzin.me/docs/home");
    expect(deploymentPatch([mailbox], slashed)).toEqual(deploymentPatch([mailbox], config.mailserver));
  });

  it("keeps a long mailbox's volume name a single DNS label (at most 63 characters)", () => {
    const local = "a".repeat(60);
    const long = { ...mailbox, address: `${local}@viktorbarzin.me`, localPart: local };
    const { volumeName } = sieveNames(long, config.mailserver);
    expect(volumeName.length).toBeLessThanOrEqual(63);
    expect(volumeName).toMatch(/^sieve-a+-[0-9a-f]{10}$/);
  });

  it("mounts several mailboxes with one patch, one field manager", () => {
    const receipts = { ...mailbox, address: "receipts@viktorbarzin.me", localPart: "receipts" };
    const patch = deploymentPatch([mailbox, receipts], config.mailserver);
    expect(deploymentMounts([mailbox, receipts], config.mailserver).fieldManager).toBe("paperless-mail-ingest");
    expect(patch.metadata.annotations).toEqual({ "reloader.stakater.com/search": "true" });
    expect(patch.spec.template.spec.volumes.map((v) => v.configMap.name)).toEqual([
      "mailserver-sieve-docs-at-viktorbarzin.me",
      "mailserver-sieve-receipts-at-viktorbarzin.me",
    ]);
    expect(patch.spec.template.spec.containers).toHaveLength(1);
    expect(patch.spec.template.spec.containers[0]!.volumeMounts.map((m) => m.subPath)).toEqual([
      "docs-at-viktorbarzin.me.dovecot.sieve",
      "receipts-at-viktorbarzin.me.dovecot.sieve",
    ]);
  });

  it("names Reloader's variable as Reloader's ConvertToEnvVarName does", () => {
    expect(reloaderEnvVar("mailserver-sieve-docs-at-viktorbarzin.me")).toBe("STAKATER_MAILSERVER_SIEVE_DOCS_AT_VIKTORBARZIN_ME_CONFIGMAP");
    expect(reloaderEnvVar("www.stakater.com")).toBe("STAKATER_WWW_STAKATER_COM_CONFIGMAP"); // Reloader's own test case
    // A run of other characters is one '_', dropped at the start, kept at the end (util.go).
    expect(reloaderEnvVar("-a..b-")).toBe("STAKATER_A_B__CONFIGMAP");
  });
});
