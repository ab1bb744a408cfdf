// Where the cluster's server binaries come from: the directory scripts/build-tools.sh fills.
// TEMPORARY until tests/support/tools.ts (toolsBinDir) lands: the scratch builds of
// /tmp/prebuild/bin, or PMI_TOOLS_BIN.
import { existsSync } from "node:fs";
import { join } from "node:path";

const SCRATCH = ["/tmp/prebuild/bin", join(process.env.HOME ?? "/root", ".cache/paperless-mail-ingest/scratch-bin")];

/** Absolute path of a built binary; throws naming the build command when it is missing. */
export function binary(name: string): string {
  const dirs = [...(process.env.PMI_TOOLS_BIN ?? "").split(":").filter(Boolean), ...SCRATCH];
  for (const d of dirs) if (existsSync(join(d, name))) return join(d, name);
  throw new Error(`${name} is not built (looked in ${dirs.join(", ")}); build it with: bash scripts/build-tools.sh`);
}
