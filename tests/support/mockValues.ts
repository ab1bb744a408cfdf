// How values look to Pulumi mocks: secret inputs arrive wrapped in the SDK's secret signature.
// One place for reading them, so no test hard-codes the signature.
import * as pulumi from "@pulumi/pulumi";
import { randomTextProvider, type RandomTextProps } from "../../providers/random/randomText";

const { specialSigKey, specialSecretSig } = pulumi.runtime;

/** A value as a secret reaches the engine: `{ <sig key>: <secret sig>, value }`. */
export function isSecretValue(v: unknown): boolean {
  return v !== null && typeof v === "object" && (v as Record<string, unknown>)[specialSigKey] === specialSecretSig;
}

/** The inputs with every secret replaced by its plain value (for asserting on values). */
export function unwrapSecrets(v: any): any {
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (v !== null && typeof v === "object") {
    if (isSecretValue(v)) return unwrapSecrets(v.value);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)]));
  }
  return v;
}

/** Which top-level input properties arrived as secrets. */
export function secretInputs(inputs: object): string[] {
  return Object.entries(inputs)
    .filter(([, v]) => isSecretValue(v))
    .map(([k]) => k);
}

/** The value of an output (resolved under mocks). */
export const valueOf = <T>(o: pulumi.Output<T>): Promise<T> => new Promise((resolve) => o.apply(resolve));

const RANDOM_TEXT = "pulumi-nodejs:dynamic/random:RandomText";

/**
 * What the engine returns for a new resource: its inputs as state, except that generated values
 * (passwords, salts) come from the real RandomText provider once and are then kept in `state`,
 * as a real stack's state keeps them across deploys.
 */
export async function mockedState(args: pulumi.runtime.MockResourceArgs, state: Map<string, string>) {
  if (args.type === RANDOM_TEXT) {
    if (!state.has(args.name)) state.set(args.name, (await randomTextProvider.create(args.inputs as RandomTextProps)).outs.value);
    return { id: args.name, state: { ...args.inputs, value: state.get(args.name) } };
  }
  return { id: `${args.name}-id`, state: args.inputs };
}
