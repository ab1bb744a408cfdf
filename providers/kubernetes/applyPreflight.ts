// Dynamic provider whose only work is in check(): a server-side apply dry run of a patch.
// The Kubernetes provider skips Patch resources at preview, so without this a field owned by
// another manager (the Terraform stack's own sieve mount, say) would only fail mid-`up`.
// Here it fails the preview, with the API server's message naming that manager.
import * as pulumi from "@pulumi/pulumi";
import { DynamicResource } from "../dynamic/resource";
import { connect, KubeConnection, serverSideApply } from "./kubeClient";

export interface ApplyPreflightProps {
  /** API path of the object, e.g. /apis/apps/v1/namespaces/mailserver/deployments/mailserver. */
  path: string;
  /** The patch exactly as the Patch resource applies it. */
  body: Record<string, unknown>;
  /** The Patch resource's field manager: our own earlier fields never conflict. */
  fieldManager: string;
  /** kubeconfig context; empty for the current one. */
  context: string;
}

export type ApplyPreflightInputs = { [K in keyof ApplyPreflightProps]: pulumi.Input<ApplyPreflightProps[K]> };

export function applyPreflightProvider(connector: (context: string) => Promise<KubeConnection> = connect): pulumi.dynamic.ResourceProvider {
  return {
    async check(_olds: ApplyPreflightProps, news: ApplyPreflightProps) {
      try {
        await serverSideApply(await connector(news.context), news.path, news.body, news.fieldManager, { dryRun: true });
        return { inputs: news, failures: [] };
      } catch (e) {
        return { inputs: news, failures: [{ property: "body", reason: (e as Error).message }] };
      }
    },
    async diff(_id: string, olds: ApplyPreflightProps, news: ApplyPreflightProps) {
      return { changes: JSON.stringify(olds) !== JSON.stringify(news) };
    },
    async create(inputs: ApplyPreflightProps) {
      return { id: `${inputs.fieldManager}@${inputs.path}`, outs: inputs };
    },
    async update(_id: string, _olds: ApplyPreflightProps, news: ApplyPreflightProps) {
      return { outs: news };
    },
  };
}

export class ApplyPreflight extends DynamicResource {
  constructor(name: string, args: ApplyPreflightInputs, opts?: pulumi.CustomResourceOptions) {
    super("kubernetes:ApplyPreflight", name, { ...args }, opts, ["pulumi-nodejs:dynamic/paperless-mail-ingest:ApplyPreflight"]);
  }
}
