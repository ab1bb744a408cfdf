// The production stack's validated config, read exactly as the offline render reads it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { fromStackFile } from "../../core/stackConfig";
import { loadConfig } from "../../core/config";
import type { IngestConfig } from "../../core/types";

export const PROD_STACK_FILE = join(__dirname, "..", "..", "Pulumi.prod.yaml");

export function prodConfig(): IngestConfig {
  const stack = fromStackFile((parse(readFileSync(PROD_STACK_FILE, "utf8")) as { config: Record<string, unknown> }).config);
  if (stack.problems.length) throw new Error(stack.problems.join("\n"));
  return loadConfig(stack.raw, PROD_STACK_FILE);
}
