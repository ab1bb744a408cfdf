// Per-process memo of the paperless collections, shared by every resource of one Pulumi operation.
//
// Why globalThis: Pulumi serializes each dynamic provider *by value*, closure included, and the
// engine's plugin process evaluates every distinct provider text separately (one per provider
// object, and again whenever the text differs). A module-level Map would be copied into each
// serialized text — one cache per provider, and whatever it held at serialization time would be
// written into the state. `globalThis` is a built-in the serializer never captures, so the one
// object below lives in the plugin process only, is shared by the account, rule and tag providers,
// and starts empty in every process (= every `pulumi` operation). No module-path `require` is
// needed either, which matters because the plugin process has no TypeScript loader.
import { PaperlessClient } from "./client";

export interface Session {
  readonly client: PaperlessClient;
  /** Every object of a collection; one request (per page) serves all resources until a write invalidates it. */
  list<T>(collection: string): Promise<T[]>;
  /** A write; a failed one (it may have landed) has the given collections listed afresh, a successful one
   * is applied to its own collection's memo and has the others listed afresh. */
  write<T>(method: "POST" | "PATCH" | "DELETE", path: string, body: unknown, invalidates: readonly string[]): Promise<T>;
  /** Objects a create of this operation took (made or adopted): see provider.ts delete. */
  readonly claimed: Set<string>;
}

interface ProcessCache {
  sessions: Map<string, Session>;
}

function processCache(): ProcessCache {
  // Looked up here, not held in a module constant: the serializer cannot carry a symbol value.
  const key = Symbol.for("paperless-mail-ingest/paperless-session-cache");
  const g = globalThis as unknown as Record<symbol, ProcessCache | undefined>;
  return (g[key] ??= { sessions: new Map() });
}

/** Forget every memoized list, server probe and configured token (the next operation starts as a new process would). */
export function clearSessions(): void {
  processCache().sessions.clear();
  delete (globalThis as unknown as Record<symbol, unknown>)[Symbol.for("paperless-mail-ingest/paperless-token")];
}

/** The memo after a successful write: POST adds the returned object, PATCH replaces it, DELETE drops `<id>/`. */
function applyWrite(items: readonly { id: number }[], method: string, rest: string, result: unknown): { id: number }[] {
  if (method === "DELETE") return items.filter((o) => `${o.id}/` !== rest);
  const written = result as { id: number };
  return method === "POST" ? [...items, written] : items.map((o) => (o.id === written.id ? written : o));
}

function newSession(url: string, token: string): Session {
  const client = new PaperlessClient(url, token);
  const lists = new Map<string, Promise<unknown[]>>();
  return {
    client,
    claimed: new Set(),
    list<T>(collection: string): Promise<T[]> {
      let pending = lists.get(collection);
      if (!pending) {
        pending = client.listAll<unknown>(collection);
        lists.set(collection, pending);
        // A failed list is not memoized: the next caller retries it.
        pending.catch(() => { if (lists.get(collection) === pending) lists.delete(collection); });
      }
      return pending as Promise<T[]>;
    },
    async write<T>(method: "POST" | "PATCH" | "DELETE", path: string, body: unknown, invalidates: readonly string[]): Promise<T> {
      let result: T;
      try {
        result = await client.request<T>(method, path, body === undefined ? {} : { body });
      } catch (e) {
        for (const c of invalidates) lists.delete(c);
        throw e;
      }
      for (const c of invalidates) {
        const cached = lists.get(c);
        if (cached && path.startsWith(c)) {
          // The write's own collection: apply it to the memo rather than list everything again
          // (creates one after another would otherwise re-list once per object).
          const updated = cached.then((items) => applyWrite(items as { id: number }[], method, path.slice(c.length), result));
          lists.set(c, updated);
          updated.catch(() => { if (lists.get(c) === updated) lists.delete(c); });
        } else {
          lists.delete(c); // another collection the write changed on the server (a cascade)
        }
      }
      return result;
    },
  };
}

/** The session for one server and credential; the key lives only in this process's memory. */
export function session(url: string, token: string): Session {
  const sessions = processCache().sessions;
  const key = `${url}\u0000${token}`;
  let s = sessions.get(key);
  if (!s) {
    s = newSession(url, token);
    sessions.set(key, s);
  }
  return s;
}
