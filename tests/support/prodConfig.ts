// The production stack config, as every test suite sees it.
import { join } from "path";
import { readStackFile } from "../../stack/stackConfig";
import type { IngestConfig } from "../../core/types";

export const PROD_STACK_FILE = join(__dirname, "..", "..", "Pulumi.prod.yaml");

export function prodConfig(): IngestConfig {
  return readStackFile(PROD_STACK_FILE).config;
}

/** The paperless users the production senders map to (the paperless test servers are given them). */
export function prodUsers(): string[] {
  return [...new Set(prodConfig().mailboxes.flatMap((m) => m.senders.map((s) => s.user)))];
}
