// The floor of the whole-program bench (tests/bench/programBench.ts): every provider a preview of
// index.ts starts, configured from the same stack by the same functions (the Kubernetes and the
// Vault provider; command and pulumi-nodejs, which the program uses as default providers, declared
// here as there is no resource to pull them in), and no resource. What `pulumi preview` or `up`
// costs before anything of ours runs: the CLI, the language host and the provider plugins.
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { kubernetesProvider, readKubeTarget } from "../../../stack/kubernetesConnection";
import { vaultProvider } from "../../../stack/vaultConnection";

/** The provider the dynamic resources run in (pulumi-resource-pulumi-nodejs, shipped with the language host). */
class DynamicProvider extends pulumi.ProviderResource {
  constructor(name: string) {
    super("pulumi-nodejs", name, {});
  }
}

kubernetesProvider("mailserver-cluster", readKubeTarget());
vaultProvider("vault");
new command.Provider("command", {});
new DynamicProvider("dynamic");
