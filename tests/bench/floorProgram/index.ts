// The floor of the whole-program bench (tests/bench/programBench.ts): every provider a preview of
// index.ts starts, configured from the same stack by the same functions (the Kubernetes, Vault and
// command providers; pulumi-nodejs, which the program uses as the default provider, declared here
// as there is no resource to pull it in), and no resource. What `pulumi preview` or `up` costs
// before anything of ours runs: the CLI, the language host and the provider plugins.
import * as pulumi from "@pulumi/pulumi";
import { commandProvider } from "../../../stack/commandConnection";
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
commandProvider("command");
new DynamicProvider("dynamic");
