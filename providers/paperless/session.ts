// Per-operation memo of the paperless collections, shared by every resource of one Pulumi operation
// (providers/processMemory.ts): the account, rule and tag providers list each collection once, and
// the collections they all read at the same time (docs/performance.md#requests).
import { remembered } from "../processMemory";
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

/** The memo after a successful write: POST adds the returned object, PATCH replaces it, DELETE drops `<id>/`. */
function applyWrite(items: readonly { id: number }[], method: string, rest: string, result: unknown): { id: number }[] {
  if (method === "DELETE") return items.filter((o) => `${o.id}/` !== rest);
  const written = result as { id: number };
  return method === "POST" ? [...items, written] : items.map((o) => (o.id === written.id ? written : o));
}

function newSession(url: string, token: string, together: readonly string[]): Session {
  const client = new PaperlessClient(url, token);
  const lists = new Map<string, Promise<unknown[]>>();
  /** One collection's list, memoized; a failed one is not (the next caller retries it). */
  const listed = (collection: string): Promise<unknown[]> => {
    let pending = lists.get(collection);
    if (!pending) {
      pending = client.listAll<unknown>(collection);
      lists.set(collection, pending);
      pending.catch(() => {
        if (lists.get(collection) === pending) lists.delete(collection);
      });
    }
    return pending;
  };
  let started = false;
  return {
    client,
    claimed: new Set(),
    list<T>(collection: string): Promise<T[]> {
      if (!started && together.includes(collection)) {
        started = true;
        for (const c of together) if (c !== collection) void listed(c);
      }
      return listed(collection) as Promise<T[]>;
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
          updated.catch(() => {
            if (lists.get(c) === updated) lists.delete(c);
          });
        } else {
          lists.delete(c); // another collection the write changed on the server (a cascade)
        }
      }
      return result;
    },
  };
}

/**
 * The session for one server and credential; the key lives only in this process's memory. The
 * first list of any of `together` starts the others' too: collections every operation reads, listed
 * in one round trip rather than one more each time a kind's first resource comes to need its own.
 */
export function session(url: string, token: string, together: readonly string[]): Session {
  const sessions = remembered("paperless sessions", () => new Map<string, Session>());
  const key = `${url}\u0000${token}`;
  let s = sessions.get(key);
  if (!s) {
    s = newSession(url, token, together);
    sessions.set(key, s);
  }
  return s;
}
