// Dynamic provider: a random string generated once, on create, and then only read back from
// state (what @pulumi/random would do; that plugin is not available here). Used for the mailbox
// password and for the account hash's salt, so a second `pulumi up` changes nothing.
import { randomInt, randomUUID } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";

/** `length` crypto-random characters of `alphabet` (uniform: randomInt has no modulo bias). */
export function randomText(alphabet: string, length: number): string {
  let text = "";
  for (let i = 0; i < length; i++) text += alphabet[randomInt(alphabet.length)];
  return text;
}

export interface RandomTextProps {
  alphabet: string;
  length: number;
}

export const randomTextProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: RandomTextProps, news: RandomTextProps) {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (typeof news.alphabet !== "string" || new Set(news.alphabet).size < 2)
      failures.push({ property: "alphabet", reason: `${JSON.stringify(news.alphabet)} must have at least two distinct characters` });
    if (!Number.isInteger(news.length) || news.length < 1 || news.length > 1024)
      failures.push({ property: "length", reason: `${JSON.stringify(news.length)} must be an integer from 1 to 1024` });
    return { inputs: news, failures };
  },
  async diff(_id: string, olds: RandomTextProps, news: RandomTextProps) {
    const replaces = (["alphabet", "length"] as const).filter((k) => olds[k] !== news[k]);
    return { changes: replaces.length > 0, replaces };
  },
  async create(inputs: RandomTextProps) {
    const value = randomText(inputs.alphabet, inputs.length);
    return { id: randomUUID(), outs: { ...inputs, value } };
  },
};
