// Bad input anywhere gives one clear message naming the cause and the fix, at preview, and
// leaves nothing half-made. (The paperless cases run against the real server in
// tests/paperless/suites/badInput.ts, the Vault cases are in tests/vault; config shape in tests/config.)
import { mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { loadStackFile } from "../../core/stackConfig";

test("malformed stack YAML names the file, the line and what is wrong", () => {
  const path = join(mkdtempSync(join(tmpdir(), "bad-yaml-")), "Pulumi.prod.yaml");
  writeFileSync(path, "config:\n  paperless-mail-ingest:mailboxes:\n    - address: docs@example.org\n   senders: [\n");
  expect(() => loadStackFile(path)).toThrow(new RegExp(`^${path.replace(/[.]/g, "\\.")}: 1 problem\\(s\\)[\\s\\S]*cannot read the stack file: .*line 4`));
});
