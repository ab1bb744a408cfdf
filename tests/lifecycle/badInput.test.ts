// Bad input anywhere gives one clear message naming the cause and the fix, at preview, and
// leaves nothing half-made. (The paperless cases run against the real server in
// tests/paperless/suites/badInput.ts, the Vault cases are in tests/vault; config shape in tests/config.)
import { mkdtempSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { parse } from "yaml";
import { PROGRAM_CONFIG_MAX_BYTES, programConfigBytes, readStackFile } from "../../stack/stackConfig";
import { PROD_STACK_FILE } from "../support/prodConfig";
import { programStack, type ProgramStack } from "../support/programStack";

test("malformed stack YAML names the file, the line and what is wrong", () => {
  const path = join(mkdtempSync(join(tmpdir(), "bad-yaml-")), "Pulumi.prod.yaml");
  writeFileSync(path, "config:\n  paperless-mail-ingest:mailboxes:\n    - address: docs@example.org\n   senders: [\n");
  expect(() => readStackFile(path)).toThrow(
    new RegExp(`^${path.replace(/[.]/g, "\\.")}: 1 problem\\(s\\)[\\s\\S]*cannot read the stack file: .*line 4`),
  );
});

/**
 * The real CLI running index.ts on a stack whose config is refused: no plugin is needed, as the
 * program stops before its first resource. What a user reads is the CLI's output.
 */
describe("a refused stack through the real Pulumi CLI", () => {
  const BAD_ADDRESS = 'mailboxes[0].senders[3].address: "ancaelena98-at-gmail.com" is not an email address';
  let stack: ProgramStack;
  const prodWith = (extra: Record<string, unknown>): Record<string, unknown> => {
    const config = parse(readFileSync(PROD_STACK_FILE, "utf8")).config as Record<string, any>;
    config["paperless-mail-ingest:mailboxes"][0].senders[3].address = "ancaelena98-at-gmail.com";
    return { ...config, ...extra };
  };
  const count = (text: string, part: string) => text.split(part).length - 1;

  beforeAll(async () => {
    stack = await programStack("e2e-bad-input");
    await stack.setSecret("paperless-mail-ingest:paperlessToken", "a-paperless-token-for-the-test");
  }, 120_000);
  afterAll(async () => stack?.dispose());

  it("prints each problem once, without a stack trace", async () => {
    stack.setConfig(prodWith({}));
    const preview = await stack.preview();
    expect(preview.ok).toBe(false);
    const output = preview.stdout + preview.stderr;
    expect(count(output, BAD_ADDRESS)).toBe(1);
    expect(preview.errors).toEqual([expect.stringContaining(`1 problem(s) in the configuration:\n  - ${BAD_ADDRESS}`)]);
    expect(output).not.toMatch(/unhandled exception|at readProgramConfig|problems: \[/);
  }, 120_000);

  it("refuses vault:token and an inline kubeconfig set without --secret, never printing them", async () => {
    stack.setConfig(
      prodWith({ "vault:token": "hvs.plain-vault-token", "kubernetes:kubeconfig": "apiVersion: v1\nkind: Config\nclusters: []\n" }),
    );
    const preview = await stack.preview();
    expect(preview.ok).toBe(false);
    expect(preview.errors).toHaveLength(1);
    expect(preview.errors[0]).toContain("3 problem(s) in the configuration:");
    expect(preview.errors[0]).toContain(
      "  - vault:token: is stored in clear; run `pulumi config set --secret vault:token <token>` (or export VAULT_TOKEN) instead",
    );
    expect(preview.errors[0]).toContain("  - kubernetes:kubeconfig: is stored in clear; it holds the kubeconfig's text (its credentials)");
    expect(preview.stdout + preview.stderr).not.toContain("hvs.plain-vault-token");
  }, 120_000);

  it("takes secrets set with --secret (a password by --path too) and warns that vault:skipTlsVerify turns TLS checks off", async () => {
    stack.setConfig(prodWith({ "vault:skipTlsVerify": true }));
    await stack.cli("config", "set", "--secret", "vault:token", "hvs.secret-vault-token");
    await stack.cli(
      "config",
      "set",
      "--secret",
      "--path",
      'paperless-mail-ingest:mailboxPasswords["docs@viktorbarzin.me"]',
      "a-mailbox-password",
    );
    const preview = await stack.preview();
    expect(preview.ok).toBe(false);
    // Only the deliberate bad address: nothing about the secrets.
    expect(preview.errors).toEqual([
      expect.stringMatching(
        new RegExp(`1 problem\\(s\\) in the configuration:\n  - ${BAD_ADDRESS.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\n?$`),
      ),
    ]);
    expect(
      count(
        preview.stdout + preview.stderr,
        "warning: vault:skipTlsVerify turns off the check of Vault's TLS certificate: the Vault token goes to whoever answers at vault:address",
      ),
    ).toBe(1);
  }, 120_000);

  it("a config over what the CLI can hand the program is refused by the render, at exactly the limit Linux sets", async () => {
    // The token from the environment: a secret in the file would count with its longer ciphertext.
    const sized = await programStack("e2e-config-size", { env: { PAPERLESS_API_TOKEN: "a-paperless-token-for-the-test" } });
    try {
      const configOf = (bytes: number): Record<string, unknown> => {
        const config = prodWith({});
        const senders = (config["paperless-mail-ingest:mailboxes"] as any)[0].senders as object[];
        for (let i = 0; programConfigBytes(config) < bytes - 300; i++) senders.push({ address: `s${i}@example${i}.net`, user: "root" });
        const pad = { address: "pad@example.org", user: "root", label: "x" };
        senders.push(pad);
        pad.label = "x".repeat(1 + bytes - programConfigBytes(config));
        expect(programConfigBytes(config)).toBe(bytes);
        return config;
      };
      for (const bytes of [PROGRAM_CONFIG_MAX_BYTES, PROGRAM_CONFIG_MAX_BYTES + 1]) {
        sized.setConfig(configOf(bytes));
        const preview = await sized.preview();
        const output = preview.stdout + preview.stderr;
        let rendered = "";
        try {
          readStackFile(sized.stackFile);
        } catch (e) {
          rendered = (e as Error).message;
        }
        if (bytes <= PROGRAM_CONFIG_MAX_BYTES) {
          // The program ran: it refused the one deliberate problem, and so does the render.
          expect(preview.errors).toEqual([expect.stringContaining(`1 problem(s) in the configuration:\n  - ${BAD_ADDRESS}`)]);
          expect(rendered).toContain(`1 problem(s) in the configuration:\n  - ${BAD_ADDRESS}`);
        } else {
          expect(output).toMatch(/fork\/exec \S*node: argument list too long/);
          expect(rendered).toContain(
            `  - config: is ${bytes} bytes as the Pulumi CLI hands it to the program (all of it in one environment ` +
              `variable, PULUMI_CONFIG), over the 131072 bytes Linux allows one variable (MAX_ARG_STRLEN): \`pulumi preview\` would fail ` +
              `with "argument list too long"; move some mailboxes or senders to another stack`,
          );
        }
      }
    } finally {
      await sized.dispose();
    }
  }, 300_000);
});
