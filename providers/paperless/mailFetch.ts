// Ask paperless-ngx to fetch mail now, through its API, and wait until that fetch has finished.
//
// `POST /api/mail_accounts/{id}/process/` (paperless-ngx 2.14 and later) queues the fetch as a
// Celery task and answers at once, without the task's id. paperless-ngx 3.x records that task in
// `/api/tasks/` (type `mail_fetch`, with the account's id) and each consumption it queues (type
// `consume_file`, with the mail rule's id), so the fetch is waited for there, and then for the
// `/api/processed_mail/` row of each rule that filed a document: the rule's action (the move to its
// processed folder) runs in a further task that reads the rule, so a rule deleted before it ran
// leaves its mail where it was (docs/paperless-api.md#fetching-mail). 2.x records neither:
// there the end of a fetch cannot be seen through the API, and the result says so instead of
// claiming it.
import { setTimeout as sleep } from "node:timers/promises";
import { isPaperlessApiError, type Page, type PaperlessClient, type ServerInfo } from "./client";

export interface FetchAccount {
  readonly id: number;
  readonly name: string;
}

export interface FetchResult {
  /** The account's name. */
  readonly account: string;
  /** True only when paperless showed that this fetch, and every consumption it queued, finished. */
  readonly confirmed: boolean;
  /** The fetch failed or missed the deadline. False when it only cannot be confirmed (see detail). */
  readonly failed: boolean;
  /** One line: what paperless showed, or what was not confirmed and why. */
  readonly detail: string;
}

export interface FetchOptions {
  /** How long to wait for every fetch (and what it queued) to finish, counted from the first request. */
  readonly deadlineMs: number;
  /** Receives one line whenever an account's fetch moves on, and at least every 10 s while waiting. */
  readonly onProgress?: (line: string) => void;
  /** Pause between two looks at the task list (default 1000 ms). */
  readonly pollMs?: number;
}

/** The first paperless-ngx release with `POST /api/mail_accounts/{id}/process/`. */
export const FETCH_ENDPOINT_SINCE = "2.14.0";

function versionParts(version: string | undefined): number[] | undefined {
  const m = version === undefined ? null : /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(version);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

function olderThan(version: readonly number[], than: readonly number[]): boolean {
  for (let i = 0; i < than.length; i++) if (version[i] !== than[i]) return version[i]! < than[i]!;
  return false;
}

/**
 * Why this server cannot be asked to fetch mail, or undefined when it can. A server that does not
 * name its version (no `X-Version`) is asked anyway: the request itself then says whether it can.
 */
export function fetchUnsupported(info: ServerInfo, url: string): string | undefined {
  const version = versionParts(info.serverVersion);
  if (!version || !olderThan(version, versionParts(FETCH_ENDPOINT_SINCE)!)) return undefined;
  return (
    `paperless-ngx ${info.serverVersion} at ${url} cannot be asked to fetch mail: ` +
    `POST /api/mail_accounts/{id}/process/ arrived in paperless-ngx ${FETCH_ENDPOINT_SINCE}; upgrade paperless-ngx`
  );
}

/** paperless-ngx 3.x records a mail fetch as a task; 2.x does not. */
export function recordsFetchTasks(info: ServerInfo): boolean {
  const version = versionParts(info.serverVersion);
  return version ? version[0]! >= 3 : (info.apiVersion ?? 0) >= 10;
}

interface WireTask {
  readonly id: number;
  readonly task_type: string;
  readonly status: string;
  readonly input_data: { readonly account_ids?: readonly number[]; readonly mailrule_id?: number } | null;
  readonly result_data: {
    readonly error_message?: string;
    readonly document_id?: number;
    readonly duplicate_of?: number;
    readonly reason?: string;
  } | null;
}

const FINISHED = new Set(["success", "failure", "revoked"]);
const HEARTBEAT_MS = 10_000;

const TASKS = "/api/tasks/?task_type=mail_fetch&task_type=consume_file";
const PROCESSED = "/api/processed_mail/";

interface WireProcessedMail {
  readonly id: number;
  readonly rule: number;
}

/** `path` with `params` appended to its query. */
const withParams = (path: string, params: string) => `${path}${path.includes("?") ? "&" : "?"}${params}`;

/** The highest row id of a newest-first list before the request: every row after it is newer. */
async function lastId(client: PaperlessClient, path: string, pageSize: number): Promise<number> {
  const page = await client.request<Page<{ id: number }>>("GET", withParams(path, `page_size=${pageSize}`));
  return Math.max(0, ...page.results.map((r) => r.id));
}

/** The rows of a newest-first list recorded after `after`: pages are read only until they reach older ones. */
async function rowsAfter<T extends { id: number }>(client: PaperlessClient, path: string, after: number): Promise<T[]> {
  const out: T[] = [];
  for (let page = 1; ; page++) {
    const { results, next } = await client.request<Page<T>>("GET", withParams(path, `page_size=100&page=${page}`));
    const fresh = results.filter((r) => r.id > after);
    out.push(...fresh);
    if (fresh.length < results.length || next === null) return out;
  }
}

/** mail rule id -> its account's id: a consumption names only the rule that queued it. */
async function ruleAccounts(client: PaperlessClient): Promise<Map<number, number>> {
  const rules = await client.listAll<{ id: number; account: number }>("/api/mail_rules/");
  return new Map(rules.map((r) => [r.id, r.account]));
}

const ids = (tasks: readonly WireTask[]) => tasks.map((t) => t.id).join(", ");

/** What one consumption left: a document, or why there is none. */
function consumed(t: WireTask): string | undefined {
  if (t.status === "success" && t.result_data?.document_id !== undefined) return undefined;
  if (t.result_data?.duplicate_of !== undefined) return `a duplicate of document ${t.result_data.duplicate_of} (task ${t.id})`;
  const why = t.result_data?.error_message ?? t.result_data?.reason ?? t.status;
  return `${why} (task ${t.id})`;
}

type State =
  | { readonly done: false; readonly waiting: string; readonly late: string }
  | { readonly done: true; readonly result: Omit<FetchResult, "account"> };

/** Where the fetch of one account stands, from the tasks recorded since the request. */
function accountState(
  account: FetchAccount,
  tasks: readonly WireTask[],
  rules: ReadonlyMap<number, number> | undefined,
  actedOn: ReadonlySet<number> | undefined,
  waitedS: number,
): State {
  const fetches = tasks.filter((t) => t.task_type === "mail_fetch" && t.input_data?.account_ids?.includes(account.id));
  if (!fetches.length) {
    return {
      done: false,
      waiting: "waiting for paperless to record the fetch",
      late: `no mail_fetch task for it appeared within ${waitedS} s of the request`,
    };
  }
  const broken = fetches.filter((t) => t.status === "failure" || t.status === "revoked");
  if (broken.length) {
    const t = broken[0]!;
    return {
      done: true,
      result: {
        confirmed: false,
        failed: true,
        detail: `the fetch failed (mail_fetch task ${t.id}, ${t.status}): ${t.result_data?.error_message ?? "paperless gave no error message"}`,
      },
    };
  }
  const pending = fetches.filter((t) => t.status === "pending");
  if (pending.length) {
    return {
      done: false,
      waiting: `mail_fetch task ${ids(pending)} pending: waiting for a paperless worker to take it`,
      late: `mail_fetch task ${ids(pending)} still pending after ${waitedS} s: no worker took it; is paperless's Celery worker running?`,
    };
  }
  const running = fetches.filter((t) => t.status !== "success");
  if (running.length) {
    return {
      done: false,
      waiting: `mail_fetch task ${ids(running)} running`,
      late: `mail_fetch task ${ids(running)} still running after ${waitedS} s`,
    };
  }
  // Every consumption a fetch queues is recorded before the fetch task ends.
  const consumptions = tasks.filter((t) => t.task_type === "consume_file" && rules?.get(t.input_data?.mailrule_id ?? -1) === account.id);
  const fetched = `fetched (mail_fetch task ${ids(fetches)})`;
  const open = consumptions.filter((t) => !FINISHED.has(t.status));
  if (open.length) {
    return {
      done: false,
      waiting: `${fetched}; consuming ${open.length} of ${consumptions.length} attachment(s)`,
      late: `${fetched}, but consume task ${ids(open)} not finished after ${waitedS} s`,
    };
  }
  if (!consumptions.length) return { done: true, result: { confirmed: true, failed: false, detail: `${fetched}: nothing new to consume` } };
  const problems = consumptions.map(consumed).filter((p): p is string => p !== undefined);
  const filed = consumptions.length - problems.length;
  const filing = new Set(consumptions.filter((t) => consumed(t) === undefined).map((t) => t.input_data!.mailrule_id!));
  const unmoved = [...filing].filter((rule) => !actedOn?.has(rule));
  if (unmoved.length) {
    return {
      done: false,
      waiting: `${fetched}; ${filed} document(s) filed, waiting for paperless to move the mail to its processed folder`,
      late: `${fetched}, ${filed} document(s) filed, but the action of mail rule ${unmoved.join(", ")} (the move to its processed folder) did not run within ${waitedS} s`,
    };
  }
  const notFiled = problems.length ? `; ${problems.length} not filed: ${problems.join("; ")}` : "";
  return { done: true, result: { confirmed: true, failed: false, detail: `${fetched}: ${filed} document(s) filed${notFiled}` } };
}

/**
 * Asks paperless to fetch each account's mail now, then waits (until `deadlineMs`) for every fetch
 * and the consumptions it queued to finish. One result per account, in the given order. Throws
 * when the server is too old for the request or a request fails; a fetch that failed or missed
 * the deadline is a result with `failed`. One list request per poll, whatever the number of accounts.
 */
export async function fetchAndWait(client: PaperlessClient, accounts: readonly FetchAccount[], opts: FetchOptions): Promise<FetchResult[]> {
  const say = opts.onProgress ?? (() => undefined);
  const info = await client.serverInfo();
  const unsupported = fetchUnsupported(info, client.baseUrl);
  if (unsupported) throw new Error(unsupported);
  const started = Date.now();
  let unconfirmed: string | undefined = recordsFetchTasks(info)
    ? undefined
    : `paperless-ngx ${info.serverVersion ?? "(version not announced)"} records no task for a mail fetch (3.0 and later do), so its end is not confirmed`;
  let after = 0;
  let afterProcessed = 0;
  if (!unconfirmed) {
    try {
      after = await lastId(client, TASKS, 25);
      afterProcessed = await lastId(client, PROCESSED, 100);
    } catch (e) {
      if (!isPaperlessApiError(e) || e.status !== 403) throw e;
      unconfirmed = "the API token may not read /api/tasks/ or /api/processed_mail/ (403), so its end is not confirmed";
    }
  }
  for (const account of accounts) {
    await client.request("POST", `/api/mail_accounts/${account.id}/process/`);
    say(`${account.name}: fetch requested`);
  }
  if (unconfirmed) {
    const detail = `fetch requested; ${unconfirmed}`;
    for (const account of accounts) say(`${account.name}: ${detail}`);
    return accounts.map((a) => ({ account: a.name, confirmed: false, failed: false, detail }));
  }

  const results = new Map<number, FetchResult>();
  const said = new Map<number, string>();
  let rules: Map<number, number> | undefined;
  let beat = started;
  for (;;) {
    const tasks = await rowsAfter<WireTask>(client, TASKS, after);
    if (!rules && tasks.some((t) => t.task_type === "consume_file")) rules = await ruleAccounts(client);
    // Read only once a consumption has filed a document: one more list call per poll from then on.
    const actedOn = tasks.some((t) => t.task_type === "consume_file" && consumed(t) === undefined)
      ? new Set((await rowsAfter<WireProcessedMail>(client, PROCESSED, afterProcessed)).map((m) => m.rule))
      : undefined;
    const waited = Date.now() - started;
    const late = waited >= opts.deadlineMs;
    const heartbeat = Date.now() - beat >= HEARTBEAT_MS;
    if (heartbeat) beat = Date.now();
    for (const account of accounts.filter((a) => !results.has(a.id))) {
      const state = accountState(account, tasks, rules, actedOn, Math.round(waited / 1000));
      if (state.done || late) {
        const result = state.done ? state.result : { confirmed: false, failed: true, detail: state.late };
        results.set(account.id, { account: account.name, ...result });
        say(`${account.name}: ${result.detail}`);
      } else if (heartbeat || said.get(account.id) !== state.waiting) {
        said.set(account.id, state.waiting);
        say(`${account.name}: ${state.waiting} (${Math.round(waited / 1000)} s)`);
      }
    }
    if (results.size === accounts.length) return accounts.map((a) => results.get(a.id)!);
    await sleep(Math.min(opts.pollMs ?? 1000, Math.max(0, opts.deadlineMs - waited)));
  }
}
