// The program's one provider for @pulumi/command, whose Commands are the kubectl steps of the
// sieve (components/sieveFilter.ts, components/sieveRollout.ts). Declared with the Kubernetes and
// Vault providers, so the engine starts its plugin while it starts theirs; a default provider
// starts only when the first Command registers, late in a preview (docs/performance.md#providers).
import * as command from "@pulumi/command";

/**
 * The provider's name in stacks deployed before it was explicit: Pulumi's default provider for
 * @pulumi/command 1.2.1. The explicit provider takes it over (an alias), so those stacks' Commands
 * keep their provider and nothing changes.
 */
const FORMER_DEFAULT_PROVIDER = "default_1_2_1";

/** The command provider; it has no settings of its own. */
export function commandProvider(name: string): command.Provider {
  return new command.Provider(name, {}, { aliases: [{ name: FORMER_DEFAULT_PROVIDER }] });
}
