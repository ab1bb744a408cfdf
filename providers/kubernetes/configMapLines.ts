// Dynamic provider: this program's lines in one key of a ConfigMap someone else owns
// (postfix-accounts.cf / postfix-virtual.cf in `mailserver.config`). It edits only its own
// marker-delimited block (core/ownedLines) with resourceVersion-conditional writes, and
// removes the block on delete.
import type { KubeTarget } from "../../core/kubeTarget";
import type * as pulumi from "@pulumi/pulumi";
import { aliasLookupPanic, foreignDefinitions, LineFormat, lineKey, markers, readOwnedLines, writeOwnedLines } from "../../core/ownedLines";
import { connect, ConfigMapObject, type Connector, editConfigMapKey, getConfigMap, keyManagers, peekConfigMap } from "./kubeClient";

export interface ConfigMapLinesProps {
  namespace: string;
  name: string;
  key: string;
  /** Block owner (marker text); one block per owner and key. */
  owner: string;
  format: LineFormat;
  /** The addresses/aliases the lines define: known at preview even when the lines are not. */
  keys: string[];
  lines: string[];
  /** The cluster (kubeconfig and context), as the program's Kubernetes provider gets it; secret with an inline kubeconfig. */
  cluster: KubeTarget;
}

export type ConfigMapLinesInputs = { [K in keyof ConfigMapLinesProps]: pulumi.Input<ConfigMapLinesProps[K]> };

function where(p: ConfigMapLinesProps): string {
  return `ConfigMap ${p.namespace}/${p.name} key ${p.key}`;
}

/** Another definition of one of our keys outside our block would make Dovecot/Postfix pick one of two. */
function conflictMessage(p: ConfigMapLinesProps, text: string, cm: ConfigMapObject): string | undefined {
  const found = foreignDefinitions(text, p.owner, p.format, p.keys);
  if (!found.length) return undefined;
  const managers = keyManagers(cm, p.key);
  return (
    `${where(p)} already defines ${found.map((f) => `${f.key} (line ${f.line})`).join(", ")} outside the block of ${p.owner}` +
    ` (the key is managed by ${managers.length ? managers.map((m) => JSON.stringify(m)).join(", ") : "an unknown manager"});` +
    ` remove that line from its owner before this program takes the mailbox over`
  );
}

/** With our lines in place docker-mailserver must still start: a line its alias lookup takes for our account, holding no hash, makes it panic. */
function startupHazard(p: ConfigMapLinesProps, textAfter: string): string | undefined {
  if (p.format !== "accounts") return undefined;
  for (const key of p.keys) {
    const hit = aliasLookupPanic(textAfter, key);
    if (hit) {
      return (
        `${where(p)} line ${hit.line} (${JSON.stringify(hit.text)}) is the first line holding ${key}, and it has no hash:` +
        ` docker-mailserver's alias lookup (an unanchored grep in _create_dovecot_alias_dummy_accounts) would take it for the account` +
        ` and stop the mail server at start; no other line may contain the address, not even a comment -- remove or reword that line`
      );
    }
  }
  return undefined;
}

async function putLines(connector: Connector, p: ConfigMapLinesProps, lines: string[]): Promise<void> {
  const conn = await connector(p.cluster);
  await editConfigMapKey(
    conn,
    p.namespace,
    p.name,
    p.key,
    (text, cm) => {
      const after = writeOwnedLines(text, p.owner, lines);
      if (lines.length) {
        const conflict = conflictMessage(p, text, cm) ?? startupHazard(p, after);
        if (conflict) throw new Error(conflict);
      }
      return after;
    },
    { missing: lines.length ? "error" : "ignore" },
  );
}

const isKnownList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === "string");

/**
 * Whether the live block differs from the declared lines, so a plain `pulumi up` puts back a block
 * the owner's stack removed (its nightly apply, a `-replace` of the ConfigMap) without waiting for
 * a refresh. The read is check()'s memoized one: no request of its own.
 */
async function liveDiffers(connector: Connector, p: ConfigMapLinesProps): Promise<boolean> {
  if (!isKnownList(p.lines)) return false;
  const cm = await peekConfigMap(await connector(p.cluster), p.namespace, p.name);
  const live = cm ? (readOwnedLines(cm.data?.[p.key] ?? "", p.owner) ?? []) : [];
  return JSON.stringify(live) !== JSON.stringify(p.lines);
}

/** The provider; tests pass their own Connector. */
export function configMapLinesProvider(connector: Connector = connect): pulumi.dynamic.ResourceProvider {
  return {
    async check(_olds: ConfigMapLinesProps, news: ConfigMapLinesProps) {
      const failures: pulumi.dynamic.CheckFailure[] = [];
      try {
        markers(news.owner);
        // Lines derived from a secret are unknown during a first preview; they are checked on write.
        if (isKnownList(news.lines)) writeOwnedLines("", news.owner, news.lines);
      } catch (e) {
        failures.push({ property: "lines", reason: (e as Error).message });
      }
      if (isKnownList(news.lines)) {
        const bad = news.lines.filter((l) => !news.keys.includes(lineKey(news.format, l) ?? ""));
        if (bad.length)
          failures.push({ property: "lines", reason: `${bad.length} line(s) define a key outside ${JSON.stringify(news.keys)}` });
      }
      // The check that matters at preview: someone else already defines our address in that key.
      if (!failures.length) {
        const conn = await connector(news.cluster);
        const cm = await peekConfigMap(conn, news.namespace, news.name);
        if (!cm)
          failures.push({
            property: "name",
            reason: `ConfigMap ${news.namespace}/${news.name} does not exist; it belongs to the mailserver's own stack, which must create it first`,
          });
        else {
          const text = cm.data?.[news.key] ?? "";
          // Lines still unknown (derived from a secret) stand in as one account line per key.
          const lines = isKnownList(news.lines) ? news.lines : news.keys.map((k) => `${k}|{stand-in}`);
          const conflict = conflictMessage(news, text, cm) ?? startupHazard(news, writeOwnedLines(text, news.owner, lines));
          if (conflict) failures.push({ property: "keys", reason: conflict });
        }
      }
      return { inputs: news, failures };
    },

    async diff(_id: string, olds: ConfigMapLinesProps, news: ConfigMapLinesProps) {
      // Another context is another cluster: the block moves there. A kubeconfig path or its text is only how we reach it.
      const replaces = [
        ...(["namespace", "name", "key", "owner", "format"] as const).filter((k) => olds[k] !== news[k]),
        ...(olds.cluster?.context !== news.cluster?.context ? ["cluster"] : []),
      ];
      const changed =
        replaces.length > 0 ||
        JSON.stringify(olds.lines) !== JSON.stringify(news.lines) ||
        JSON.stringify(olds.keys) !== JSON.stringify(news.keys) ||
        (await liveDiffers(connector, news));
      // Delete first: the new block must not meet the old one's definitions of the same keys.
      return { changes: changed, replaces, deleteBeforeReplace: replaces.length > 0 };
    },

    async create(inputs: ConfigMapLinesProps) {
      await putLines(connector, inputs, inputs.lines);
      return { id: `${inputs.namespace}/${inputs.name}/${inputs.key}/${inputs.owner}`, outs: inputs };
    },

    async update(_id: string, _olds: ConfigMapLinesProps, news: ConfigMapLinesProps) {
      await putLines(connector, news, news.lines);
      return { outs: news };
    },

    async delete(_id: string, props: ConfigMapLinesProps) {
      await putLines(connector, props, []);
    },

    // refresh: what is really in the block now (a hand-removed block shows as a change to re-apply).
    async read(id: string, props: ConfigMapLinesProps) {
      const conn = await connector(props.cluster);
      const cm = await getConfigMap(conn, props.namespace, props.name);
      const lines = cm ? (readOwnedLines(cm.data?.[props.key] ?? "", props.owner) ?? []) : [];
      return { id, props: { ...props, lines } };
    },
  };
}
