// The dynamic provider behind `paperless.fetchAfterChange`: once the rules have changed, ask
// paperless to fetch the stack's mail accounts now and wait for it (mailFetch.ts). A fetch is an
// event, not an object: create and update run it, refresh keeps the state as it is, delete has
// nothing to undo. The API token is read at call time, as for the other paperless providers.
import type * as pulumi from "@pulumi/pulumi";
import { fetchAndWait, fetchUnsupported } from "./mailFetch";
import { credentials, withSuperuserSession } from "./provider";
import type { Session } from "./session";

export interface MailFetchInputs {
  readonly url: string;
  /** The stack's mail accounts, by name. */
  readonly accounts: readonly string[];
  /** Changes exactly when some mail rule changes: only then does the fetch run again. */
  readonly rulesFingerprint: string;
}

/** How long `pulumi up` waits for the fetch to finish, in ms (environment of `pulumi`). */
export const FETCH_TIMEOUT_ENV = "PAPERLESS_FETCH_TIMEOUT_MS";
const DEFAULT_TIMEOUT_MS = 300_000;

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const WHAT = "paperless mail fetch";
const OFF =
  "or set `paperless.fetchAfterChange: false` in the stack config (paperless then fetches on its own schedule, every 10 minutes by default)";

function timeoutMs(): number {
  const raw = process.env[FETCH_TIMEOUT_ENV];
  const n = raw === undefined || raw === "" ? DEFAULT_TIMEOUT_MS : Number(raw);
  if (!Number.isFinite(n) || n < 0)
    throw new Error(`environment variable ${FETCH_TIMEOUT_ENV}: ${JSON.stringify(raw)} is not a non-negative number`);
  return n;
}

function validate(news: MailFetchInputs): pulumi.dynamic.CheckFailure[] {
  const failures: pulumi.dynamic.CheckFailure[] = [];
  if (news.url !== UNKNOWN && (typeof news.url !== "string" || !/^https?:\/\/[^\s/]+/.test(news.url))) {
    failures.push({ property: "url", reason: `url ${JSON.stringify(news.url)} is not an http(s) URL` });
  }
  const accounts = news.accounts as unknown;
  if (
    accounts !== UNKNOWN &&
    !(Array.isArray(accounts) && accounts.length > 0 && accounts.every((a) => a === UNKNOWN || (typeof a === "string" && a !== "")))
  ) {
    failures.push({ property: "accounts", reason: `accounts ${JSON.stringify(accounts)} must be a non-empty list of mail account names` });
  }
  return failures;
}

export function mailFetchProvider(): pulumi.dynamic.ResourceProvider {
  const creds = credentials();
  const withSession = <T>(url: string, action: (s: Session) => Promise<T>): Promise<T> =>
    withSuperuserSession(creds, WHAT, url, [], action);

  const runFetch = (news: MailFetchInputs) =>
    withSession(news.url, async (s) => {
      const known = await s.list<{ id: number; name: string }>("/api/mail_accounts/");
      const accounts = news.accounts.map((name) => {
        const found = known.find((a) => a.name === name);
        if (!found) throw new Error(`mail account ${JSON.stringify(name)} does not exist on ${news.url}`);
        return { id: found.id, name };
      });
      const results = await fetchAndWait(s.client, accounts, {
        deadlineMs: timeoutMs(),
        // The engine shows what a dynamic provider writes to stderr (as diagnostics of the stack).
        onProgress: (line) => process.stderr.write(`${WHAT}: ${line}\n`),
      });
      const failed = results.filter((r) => r.failed);
      if (failed.length) {
        const what = failed.map((r) => `${r.account}: ${r.detail}`).join("; ");
        throw new Error(
          `${what}${/[.?!]$/.test(what) ? "" : "."} The rules are in place: the next \`pulumi up\` asks for the fetch again ` +
            `(set ${FETCH_TIMEOUT_ENV} to wait longer than ${Math.round(timeoutMs() / 1000)} s), ${OFF}`,
        );
      }
      return { ...news };
    });

  return {
    configure: (req) => creds.configure(req),

    async check(_olds: MailFetchInputs, news: MailFetchInputs) {
      const failures = validate(news);
      if (!failures.length && news.url !== UNKNOWN) {
        const unsupported = await withSession(news.url, async (s) => fetchUnsupported(await s.client.serverInfo(), news.url));
        if (unsupported) failures.push({ property: "url", reason: `${WHAT}: ${unsupported}, ${OFF}` });
      }
      return { inputs: news, failures };
    },

    async diff(_id: string, olds: MailFetchInputs, news: MailFetchInputs) {
      const changed = (["url", "accounts", "rulesFingerprint"] as const).filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
      return { changes: changed.length > 0 };
    },

    async create(news: MailFetchInputs) {
      return { id: "mail-fetch", outs: await runFetch(news) };
    },

    async update(_id: string, _olds: MailFetchInputs, news: MailFetchInputs) {
      return { outs: await runFetch(news) };
    },
  };
}
