// paperless-ngx: the API answers the program's token; each mailbox's account exists as declared and
// paperless itself can log in with the password it stored (the only thing that catches a fetch that
// "succeeds" with a failed login); the rules are the sender list and no other rule takes the mail
// first; the server, its broker and worker are up; the scheduled fetch runs; no consumption from
// mail failed. What a version does not offer, or the token may not read, is "not checked", never ✔.
import { AttachmentProcessing, ConsumptionScope, MailAction, paperlessPlan } from "../../core/paperlessPlan";
import type { Mailbox } from "../../core/types";
import { isPaperlessApiError, type Page } from "../../providers/paperless/client";
import { redact } from "../../providers/redact";
import { ago, type Check, eachMailbox, passed, type Problem, problems, verdict } from "../check";
import type { DoctorContext, WireRule, WireTask } from "../context";

const isThree = (version: string | undefined, api: number | undefined) => (version ? Number.parseInt(version, 10) >= 3 : (api ?? 0) >= 10);

/** paperless's error text in one line, without secrets (a traceback's last line says what happened). */
export function quoteError(ctx: DoctorContext, text: string | null | undefined): string {
  const lines = (text ?? "")
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const last = lines[lines.length - 1] ?? "(no error text)";
  return redact(last.length > 300 ? `${last.slice(0, 300)}…` : last, ctx.stack.secrets);
}

async function account(ctx: DoctorContext, mailbox: Mailbox): Promise<Problem[]> {
  const p = problems("paperless.account");
  const found = await ctx.account(mailbox);
  if (!found)
    return [
      p.fail(
        `mail account ${JSON.stringify(mailbox.accountName)} of ${mailbox.address} does not exist on ${ctx.config.paperless.url}`,
        "run `pulumi up --refresh`",
      ),
    ];
  const want = paperlessPlan(mailbox, ctx.config.mailserver).account;
  const differs = (["imap_server", "imap_port", "imap_security", "username", "account_type", "is_token"] as const)
    .filter((k) => found[k] !== want[k])
    .map((k) => `${k} ${JSON.stringify(found[k])} (declared ${JSON.stringify(want[k])})`);
  return differs.length
    ? [
        p.fail(
          `mail account ${JSON.stringify(found.name)} (#${found.id}) differs from the stack: ${differs.join(", ")}`,
          "run `pulumi up --refresh`",
        ),
      ]
    : [];
}

async function accountTest(ctx: DoctorContext, mailbox: Mailbox): Promise<Problem[]> {
  const p = problems("paperless.account-test");
  const found = await ctx.account(mailbox);
  if (!found) return [];
  // All asterisks with the account's id: paperless tests the password it stored (docs/paperless-api.md).
  const body = {
    id: found.id,
    name: found.name,
    imap_server: found.imap_server,
    imap_port: found.imap_port,
    imap_security: found.imap_security,
    username: found.username,
    password: "**********",
    character_set: found.character_set,
    is_token: found.is_token,
    account_type: found.account_type,
  };
  try {
    await ctx.paperless.request("POST", "/api/mail_accounts/test/", { body });
    return [];
  } catch (e) {
    if (!isPaperlessApiError(e) || e.status === undefined || e.status >= 500 || e.status === 401) throw e;
    if (e.status === 403 || e.status === 404 || e.status === 405) {
      const why =
        e.status === 403
          ? `the token's user may not change mail account ${found.name} (paperless's test requires it)`
          : `this paperless-ngx has no POST /api/mail_accounts/test/ (${e.status}; it arrived in 2.14)`;
      return [p.notChecked(why, "use the token the program deploys with (README.md#doctor-rights), or upgrade paperless-ngx")];
    }
    // 400 "Unable to connect to server": a refused login and an unreachable server alike.
    const { mount, pathPrefix } = ctx.config.vault;
    return [
      p.fail(
        `paperless cannot log in to ${found.imap_server}:${found.imap_port} as ${found.username} with the password it stored for mail account ` +
          `${JSON.stringify(found.name)} (${e.detail}): its scheduled fetches report success and file nothing`,
        "if mailbox.login passes, the stored password is wrong: set the account's password in paperless to the one in Vault " +
          `(\`vault kv get -field=password ${mount}/${pathPrefix}/${mailbox.address}\`); otherwise paperless cannot reach the mailserver at that address`,
      ),
    ];
  }
}

const tagNames = (ids: readonly number[], tags: ReadonlyMap<number, string>) => ids.map((id) => tags.get(id) ?? `#${id}`).sort();

/** Does rule `r` select mail from `address`? paperless's filter_from is IMAP SEARCH FROM, a substring match; other filters narrow it. */
function selects(r: WireRule, address: string): boolean {
  return !r.filter_from || address.includes(r.filter_from.toLowerCase());
}

async function rules(ctx: DoctorContext, mailbox: Mailbox): Promise<Problem[]> {
  const p = problems("paperless.rules");
  const found = await ctx.account(mailbox);
  if (!found) return [];
  const [all, users, tags] = await Promise.all([ctx.rules(), ctx.users(), ctx.tags()]);
  const userName = new Map(users.map((u) => [u.id, u.username]));
  const tagName = new Map(tags.map((t) => [t.id, t.name]));
  const onAccount = all.filter((r) => r.account === found.id);
  const deployedIds = new Set(Object.values(ctx.stack.outputs?.[mailbox.address]?.ruleIds ?? {}));
  const problemsFound: Problem[] = [];
  const ours = new Map<string, WireRule>();
  for (const s of mailbox.senders) {
    const matching = onAccount.filter((r) => (r.filter_from ?? "").toLowerCase() === s.address);
    const enabled = matching.filter((r) => r.enabled);
    if (!enabled.length) {
      const off = matching.find((r) => r.id === ctx.stack.outputs?.[mailbox.address]?.ruleIds?.[s.address]) ?? matching[0];
      problemsFound.push(
        off
          ? p.fail(
              `rule ${JSON.stringify(off.name)} (#${off.id}) for ${s.address} on account ${found.name} is disabled: paperless files none of this sender's mail`,
              "run `pulumi up --refresh`: it enables it again",
            )
          : p.fail(`no rule on account ${found.name} takes mail from ${s.address}`, "run `pulumi up --refresh`: it creates the rule"),
      );
      continue;
    }
    if (enabled.length > 1) {
      problemsFound.push(
        p.fail(
          `${enabled.length} enabled rules on account ${found.name} take mail from ${s.address}: ${enabled.map((r) => `${JSON.stringify(r.name)} (#${r.id}, order ${r.order})`).join(", ")}; the first by order files it`,
          `disable or delete the one(s) the stack did not make (its rule is #${ctx.stack.outputs?.[mailbox.address]?.ruleIds?.[s.address] ?? "?"})`,
        ),
      );
      continue;
    }
    const r = enabled[0]!;
    ours.set(s.address, r);
    const differs: string[] = [];
    const owner = r.owner === null ? "(none)" : (userName.get(r.owner) ?? `#${r.owner}`);
    if (owner !== s.user) differs.push(`owner ${owner} (declared ${s.user})`);
    if (r.folder !== mailbox.inboxFolder) differs.push(`folder ${JSON.stringify(r.folder)} (declared ${mailbox.inboxFolder})`);
    if (r.action !== MailAction.MOVE || r.action_parameter !== mailbox.processedFolder) {
      differs.push(`action ${r.action} ${JSON.stringify(r.action_parameter)} (declared MOVE to ${mailbox.processedFolder})`);
    }
    for (const f of [
      "filter_to",
      "filter_subject",
      "filter_body",
      "filter_attachment_filename_include",
      "filter_attachment_filename_exclude",
    ] as const) {
      if (r[f]) differs.push(`${f} ${JSON.stringify(r[f])} (declared none)`);
    }
    if (r.maximum_age !== mailbox.maximumAge) differs.push(`maximum_age ${r.maximum_age} (declared ${mailbox.maximumAge})`);
    if (r.attachment_type !== AttachmentProcessing.ATTACHMENTS_ONLY || r.consumption_scope !== ConsumptionScope.ATTACHMENTS_ONLY) {
      differs.push(`attachment_type ${r.attachment_type}, consumption_scope ${r.consumption_scope} (declared 1, 1: attachments only)`);
    }
    if (!r.assign_owner_from_rule) differs.push("assign_owner_from_rule false (declared true)");
    const have = tagNames(r.assign_tags, tagName);
    if (JSON.stringify(have) !== JSON.stringify([...s.tags].sort()))
      differs.push(`tags ${have.join(", ") || "(none)"} (declared ${s.tags.join(", ")})`);
    if (differs.length)
      problemsFound.push(
        p.fail(
          `rule ${JSON.stringify(r.name)} (#${r.id}) for ${s.address} differs from the sender list: ${differs.join("; ")}`,
          "run `pulumi up --refresh`",
        ),
      );
  }
  // Another enabled rule on the account that paperless runs first (rules run by ascending order; ties in no defined order) and whose From filter selects the sender.
  const ourIds = new Set([...ours.values()].map((r) => r.id));
  for (const [address, r] of ours) {
    for (const other of onAccount.filter(
      (o) => o.enabled && !ourIds.has(o.id) && !deployedIds.has(o.id) && o.order <= r.order && selects(o, address),
    )) {
      problemsFound.push(
        p.fail(
          `rule ${JSON.stringify(other.name)} (#${other.id}, order ${other.order}) on account ${found.name} is not the stack's and runs ` +
            `${other.order === r.order ? "in no defined order with" : "before"} ${JSON.stringify(r.name)} (order ${r.order}); its filter_from ${JSON.stringify(other.filter_from ?? "")} selects mail from ${address}, so it takes that mail first`,
          `disable it, give it an order after ${r.order}, or narrow its filters in paperless`,
        ),
      );
    }
  }
  return problemsFound;
}

async function status(ctx: DoctorContext): Promise<Problem[]> {
  const p = problems("paperless.status");
  const answer = await ctx.status();
  if (!answer.ok) {
    return [
      p.notChecked(
        `the token's user may not read /api/status/ (${answer.error.status}): paperless-ngx 3.x allows it to superusers, staff and view_system_monitoring, 2.x to staff`,
        "use the token the program deploys with (README.md#doctor-rights)",
      ),
    ];
  }
  const s = answer.value;
  const parts: [string, string | null | undefined, string | null | undefined][] = [
    ["database", s.database?.status, s.database?.error],
    ["redis (Celery's broker)", s.tasks?.["redis_status"], s.tasks?.["redis_error"]],
    ["celery worker", s.tasks?.["celery_status"], s.tasks?.["celery_error"]],
  ];
  return parts.flatMap(([what, st, error]) => {
    if (st === "OK") return [];
    const message = `${what}: ${st ?? "not reported"}${error ? ` (${error})` : ""}`;
    const fix =
      "see paperless-ngx's log and its system status page (Settings → System status); without the broker and a worker no mail is fetched";
    return [st === "WARNING" ? p.warn(message, fix) : p.fail(message, fix)];
  });
}

async function mailFetch(ctx: DoctorContext): Promise<Problem[]> {
  const p = problems("paperless.mail-fetch");
  const info = await ctx.serverInfo();
  if (!isThree(info.serverVersion, info.apiVersion)) {
    return [
      p.notChecked(
        `paperless-ngx ${info.serverVersion ?? "(version not announced)"} records no task for a mail fetch (3.0 and later do)`,
        "look at paperless's worker log, or upgrade to 3.x",
      ),
    ];
  }
  // One page of one task: the newest scheduled fetch (the list is ordered by -date_created). Only
  // the scheduler's fetches count: one asked for by hand or through the API (the doctor's --fetch,
  // the stack's fetch after a change) is `manual` and would hide a dead scheduler
  // (docs/paperless-api.md#what-npm-run-doctor-reads).
  const latest = await ctx.answer("tasks:last-fetch", () =>
    ctx.paperless.request<Page<WireTask>>("GET", "/api/tasks/?task_type=mail_fetch&trigger_source=scheduled&page_size=1"),
  );
  if (!latest.ok)
    return [
      p.notChecked(
        `the token's user may not read /api/tasks/ (${latest.error.status})`,
        "use the token the program deploys with (README.md#doctor-rights)",
      ),
    ];
  const last = latest.value.results[0];
  const period = ctx.config.doctor.fetchPeriodMinutes;
  const fix = `the scheduler (celery beat) or the worker of paperless-ngx is down: restart paperless-ngx; doctor.fetchPeriodMinutes is ${period} (paperless's PAPERLESS_EMAIL_TASK_CRON)`;
  const age = last ? ctx.now.getTime() - Date.parse(last.date_created) : Infinity;
  if (!last || age > ctx.overdueMs) {
    // The newest fetch of any source tells a dead scheduler (fetches by hand still run) from a dead worker.
    const any = await ctx.answer("tasks:last-any-fetch", () =>
      ctx.paperless.request<Page<WireTask>>("GET", "/api/tasks/?task_type=mail_fetch&page_size=1"),
    );
    const newest = any.ok ? any.value.results[0] : undefined;
    const other =
      newest && newest.id !== last?.id
        ? `; a newer fetch, task #${newest.id} (${newest.trigger_source}, ${newest.status}, ${ago(ctx.now.getTime() - Date.parse(newest.date_created))} ago), was asked for by hand or through the API, which does not show that the scheduler runs`
        : "";
    const what = last
      ? `the last scheduled mail fetch was ${ago(age)} ago (task #${last.id}, ${last.status}): more than two fetch periods (${period} min each)`
      : "paperless-ngx has never recorded a scheduled mail fetch";
    return [p.fail(`${what}${other}`, fix)];
  }
  if (last.status === "failure")
    return [
      p.fail(
        `the last mail fetch (task #${last.id}, ${ago(age)} ago) failed: ${quoteError(ctx, last.result_data?.error_message)}`,
        "see paperless-ngx's worker log",
      ),
    ];
  return [];
}

async function consumeFailures(ctx: DoctorContext): Promise<Problem[]> {
  const p = problems("paperless.consume-failures");
  const since = ctx.since.toISOString();
  const info = await ctx.serverInfo();
  if (!isThree(info.serverVersion, info.apiVersion)) {
    return [
      p.notChecked(
        `paperless-ngx ${info.serverVersion ?? "(version not announced)"} records no source of a consumption (3.0 and later do)`,
        "paperless.backlog reports mail whose consumption failed (FAILED in /api/processed_mail/)",
      ),
    ];
  }
  // A task dismissed in paperless's task list (acknowledged) has been seen to: not reported again.
  const query = `task_type=consume_file&trigger_source=email_consume&status=failure&acknowledged=false&date_created_after=${encodeURIComponent(since)}`;
  const failed = await ctx.answer("tasks:consume-failures", () => ctx.paperless.listAll<WireTask>("/api/tasks/", query));
  if (!failed.ok)
    return [
      p.notChecked(
        `the token's user may not read /api/tasks/ (${failed.error.status})`,
        "use the token the program deploys with (README.md#doctor-rights)",
      ),
    ];
  const ourRules = new Set<number>();
  const accounts = new Set((await Promise.all(ctx.config.mailboxes.map((m) => ctx.account(m)))).flatMap((a) => (a ? [a.id] : [])));
  for (const r of await ctx.rules()) if (accounts.has(r.account)) ourRules.add(r.id);
  return failed.value
    .filter((t) => ourRules.has(Number(t.input_data?.["mailrule_id"])))
    .map((t) =>
      p.fail(
        `consuming ${JSON.stringify(t.input_data?.["filename"] ?? "?")} from mail (rule #${String(t.input_data?.["mailrule_id"])}) failed ${ago(ctx.now.getTime() - Date.parse(t.date_created))} ago (task #${t.id}): ${quoteError(ctx, t.result_data?.error_message)}`,
        "see the task in paperless (a file it cannot read needs another format; a duplicate is already filed), then dismiss it in the task list",
      ),
    );
}

export const paperlessChecks: Check<DoctorContext>[] = [
  {
    id: "paperless.api",
    group: "paperless",
    description: "paperless-ngx answers the stack's API token",
    async run(ctx) {
      const info = await ctx.serverInfo();
      const user = `the token of ${info.user.username}${info.user.is_superuser ? " (superuser)" : ""}`;
      return passed(`paperless-ngx ${info.serverVersion ?? "(version not announced)"}, API version ${info.apiVersion ?? "?"}, ${user}`);
    },
  },
  {
    id: "paperless.account",
    group: "paperless",
    description: "each mailbox's mail account exists as declared",
    needs: ["paperless.api"],
    run: eachMailbox(account),
  },
  {
    id: "paperless.account-test",
    group: "paperless",
    description: "paperless logs in to the mailbox with the password it stored",
    needs: ["paperless.account"],
    run: eachMailbox(accountTest),
  },
  {
    id: "paperless.rules",
    group: "paperless",
    description: "one enabled rule per sender as declared, and no other rule takes their mail first",
    needs: ["paperless.account"],
    run: eachMailbox(rules),
  },
  {
    id: "paperless.status",
    group: "paperless",
    description: "paperless's database, broker (redis) and worker (celery) are up",
    needs: ["paperless.api"],
    async run(ctx) {
      return verdict(await status(ctx));
    },
  },
  {
    id: "paperless.mail-fetch",
    group: "paperless",
    description: "the scheduled mail fetch ran within two fetch periods",
    needs: ["paperless.api"],
    async run(ctx) {
      return verdict(await mailFetch(ctx));
    },
  },
  {
    id: "paperless.consume-failures",
    group: "paperless",
    description: "no attachment from mail failed to be consumed in the --since window",
    needs: ["paperless.api"],
    async run(ctx) {
      return verdict(await consumeFailures(ctx));
    },
  },
];
