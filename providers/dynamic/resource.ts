// The base class of every dynamic resource of this program, and what it puts in the state.
//
// pulumi.dynamic.Resource serializes the provider object by value, closure and every module it
// reaches included, into each resource's inputs and outputs: 33–39 K characters per resource,
// rewritten by the engine after every step (issue 12). Here the state holds a shim of a few
// hundred bytes instead: the engine's plugin (pulumi-resource-pulumi-nodejs) evaluates it as a
// module and calls its handler(), which finds providers/dynamic/load.js from the plugin's working
// directory (the project: the directory of Pulumi.yaml, or one below it) and returns the provider
// registered under the resource's key. The plugin then calls that provider object's methods
// itself (configure, check, diff, create, read, update, delete), so every one the provider has
// is used exactly as if it had been serialized, and only those.
import * as pulumi from "@pulumi/pulumi";
import { PROJECT } from "../../core/types";
import type { DynamicKey } from "./registry";

/** `pulumi-nodejs:dynamic/paperless-mail-ingest/<family>:<Class>`: the plugin serves the package `pulumi-nodejs`. */
export function dynamicType(key: DynamicKey): string {
  const [family, type] = key.split(":") as [string, string];
  return `pulumi-nodejs:dynamic/${PROJECT}/${family}:${type}`;
}

const LOADER = "providers/dynamic/load.js";

/** The provider text the state keeps: walk up from the plugin's working directory to load.js. */
export function shimText(key: DynamicKey): string {
  return `exports.handler=()=>{const p=require("path");for(let d=process.cwd();;d=p.dirname(d)){const f=p.join(d,${JSON.stringify(LOADER)});`
    + `if(require("fs").existsSync(f))return require(f).provider(${JSON.stringify(key)});`
    + `if(d===p.dirname(d))throw new Error("no ${LOADER} in "+process.cwd()+" or above: run pulumi in the ${PROJECT} project directory")}};\n`;
}

/** Options plus aliases for the type tokens a resource had before, so a rename never orphans a state (aliases are not stored). */
export function withFormerTypes<O extends pulumi.ResourceOptions>(opts: O | undefined, formerTypes: readonly string[]): O {
  return formerTypes.length ? { ...opts, aliases: [...(opts?.aliases ?? []), ...formerTypes.map((type) => ({ type }))] } as O : { ...opts } as O;
}

export abstract class DynamicResource extends pulumi.CustomResource {
  protected constructor(key: DynamicKey, name: string, props: pulumi.Inputs, opts: pulumi.CustomResourceOptions | undefined,
    formerTypes: readonly string[]) {
    super(dynamicType(key), name, { ...props, __provider: shimText(key) }, withFormerTypes(opts, formerTypes));
  }
}
