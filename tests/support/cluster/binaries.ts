// Where the cluster's server binaries come from: the directory scripts/build-tools.sh fills
// (tests/support/tools.ts). TEMPORARY, while the tools are still building on this machine: the
// scratch builds in PMI_TOOLS_BIN or /tmp/prebuild/bin.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { toolsBinDir } from "../tools";

const SCRATCH = ["/tmp/prebuild/bin"];

/** Absolute path of a built binary; throws with build-tools' message (the build command) when it is missing. */
export function binary(name: string): string {
  try {
    return join(toolsBinDir(), name);
  } catch (e) {
    const dirs = [...(process.env.PMI_TOOLS_BIN ?? "").split(":").filter(Boolean), ...SCRATCH];
    for (const d of dirs) if (existsSync(join(d, name))) return join(d, name);
    throw e;
  }
}
