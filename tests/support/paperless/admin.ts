// What a test does to a real paperless-ngx as its superuser, over plain HTTP (never through the
// provider's own client): read the objects, make hand-made ones, clean up between tests.
import type { PaperlessServer } from "./server";

export type Row = Record<string, unknown> & { id: number; name: string; owner: number | null };

export interface Admin {
  request<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  /** Every object of a collection (`/api/mail_rules/`), in the server's order. */
  list<T = Row>(collection: string): Promise<T[]>;
  post(collection: string, body: Record<string, unknown>): Promise<Row>;
  /** A document made from a text file through the real consumer (Celery eager), carrying `tagIds`. */
  addDocument(title: string, tagIds: number[]): Promise<Row>;
  /** Deletes every mail account (their rules cascade), tag and document: a clean server, users kept. */
  clean(): Promise<void>;
  /** Accounts, rules, tags and documents by name, ids and all: equal before and after means nothing changed. */
  snapshot(): Promise<string>;
}

export function admin(server: Pick<PaperlessServer, "url" | "token">, token = server.token): Admin {
  const request = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(server.url + path, {
      method,
      headers: { Authorization: `Token ${token}`, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text.slice(0, 500)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
  const list = async <T>(collection: string): Promise<T[]> =>
    (await request<{ results: T[] }>("GET", `${collection}?page_size=100000`)).results;

  const api: Admin = {
    request,
    list,
    post: (collection, body) => request<Row>("POST", collection, body),
    async addDocument(title, tagIds) {
      const form = new FormData();
      form.append("document", new Blob([`${title}\n`], { type: "text/plain" }), `${title}.txt`);
      form.append("title", title);
      for (const t of tagIds) form.append("tags", String(t));
      const res = await fetch(`${server.url}/api/documents/post_document/`, {
        method: "POST",
        headers: { Authorization: `Token ${token}` },
        body: form,
      });
      if (!res.ok) throw new Error(`post_document → ${res.status}: ${await res.text()}`);
      const doc = (await list<Row & { title: string }>("/api/documents/")).find((d) => d.title === title);
      if (!doc) throw new Error(`document ${JSON.stringify(title)} was not consumed`);
      return doc;
    },
    async clean() {
      // An account's rules go with it (docs/paperless-api.md#objects); tags go in one bulk request.
      for (const a of await list<Row>("/api/mail_accounts/")) await request("DELETE", `/api/mail_accounts/${a.id}/`);
      const tags = await list<Row>("/api/tags/");
      if (tags.length)
        await request("POST", "/api/bulk_edit_objects/", { objects: tags.map((t) => t.id), object_type: "tags", operation: "delete" });
      const docs = await list<Row>("/api/documents/");
      if (docs.length) {
        await request("POST", "/api/documents/bulk_edit/", { documents: docs.map((d) => d.id), method: "delete", parameters: {} });
        await request("POST", "/api/trash/", { action: "empty" });
      }
    },
    async snapshot() {
      const strip = (rows: Row[]) => rows.map(({ user_can_change: _u, permissions: _p, ...r }) => r);
      const [accounts, rules, tags, documents] = await Promise.all(
        ["/api/mail_accounts/", "/api/mail_rules/", "/api/tags/", "/api/documents/"].map((c) => list<Row>(c)),
      );
      return JSON.stringify({
        accounts: strip(accounts!),
        rules: strip(rules!),
        // document_count changes with documents, which are compared on their own.
        tags: strip(tags!).map(({ document_count: _d, ...t }) => t),
        documents: documents!.map((d) => ({ id: d.id, title: d.title, tags: d.tags, owner: d.owner })),
      });
    },
  };
  return api;
}
