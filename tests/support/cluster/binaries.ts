// Where the cluster's server binaries come from: the one directory scripts/build-tools.sh fills.
import { join } from "node:path";
import { toolsBinDir } from "../tools";

/** Absolute path of a built binary; throws with build-tools' message (the build command) when it is missing. */
export function binary(name: string): string {
  return join(toolsBinDir(), name);
}
