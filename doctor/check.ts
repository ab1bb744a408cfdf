// What a doctor check is and what it reports, in the shape of `linkerd check` / `flux check`: a
// stable id, a group (the system it looks at), one line of description, and a verdict with, for a
// warning or failure, what is wrong (naming the object) and how to fix it (with a README anchor).
import type { Mailbox } from "../core/types";

export type Group = "stack" | "mailserver" | "mailbox" | "paperless";

export const GROUPS: readonly { id: Group; title: string }[] = [
  { id: "stack", title: "stack" },
  { id: "mailserver", title: "mailserver (Kubernetes)" },
  { id: "mailbox", title: "mailbox (IMAP)" },
  { id: "paperless", title: "paperless-ngx" },
];

export type Status = "ok" | "warn" | "fail";

/** One thing wrong: what (naming the object) and the fix, which ends with the README anchor. */
export interface Problem {
  readonly status: Exclude<Status, "ok">;
  readonly message: string;
  readonly fix: string;
}

export interface CheckResult {
  readonly status: Status;
  readonly problems: readonly Problem[];
  /** Optional detail shown after a passing check (a version, a count). */
  readonly note?: string;
}

export interface Check<C> {
  readonly id: string;
  readonly group: Group;
  readonly description: string;
  /** Checks whose outcome this one needs: it runs only if none of them failed. */
  readonly needs?: readonly string[];
  run(ctx: C): Promise<CheckResult>;
}

/** The README section that explains a check; every hint links there. */
export function anchor(id: string): string {
  return `README.md#doctor-${id.replace(/\./g, "-")}`;
}

/** The fix text of a check: what to do, then where the README explains it. */
export function fixFor(id: string, what: string): string {
  return `${what}; see ${anchor(id)}`;
}

/** A duration as a person reads it: seconds, then minutes, then hours. */
export const ago = (ms: number) =>
  ms < 120_000 ? `${Math.round(ms / 1000)} s` : ms < 7_200_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 3_600_000)} h`;

export const passed = (note?: string): CheckResult => ({ status: "ok", problems: [], ...(note ? { note } : {}) });

/** A result from problems: the worst status wins; none is a pass. */
export function verdict(problems: readonly Problem[], note?: string): CheckResult {
  const status: Status = problems.some((p) => p.status === "fail") ? "fail" : problems.length ? "warn" : "ok";
  return { status, problems, ...(note ? { note } : {}) };
}

/** Builders of one check's problems, each carrying that check's anchor. */
export function problems(id: string) {
  return {
    fail: (message: string, fix: string): Problem => ({ status: "fail", message, fix: fixFor(id, fix) }),
    warn: (message: string, fix: string): Problem => ({ status: "warn", message, fix: fixFor(id, fix) }),
    /** What the doctor could not look at: a warning, never a pass. */
    notChecked: (why: string, fix: string): Problem => ({ status: "warn", message: `not checked: ${why}`, fix: fixFor(id, fix) }),
  };
}

/** A check run for every ingest mailbox at once; their problems together make the verdict. */
export function eachMailbox<C extends { readonly config: { readonly mailboxes: readonly Mailbox[] } }>(
  each: (ctx: C, mailbox: Mailbox) => Promise<Problem[]>,
): (ctx: C) => Promise<CheckResult> {
  return async (ctx) => verdict((await Promise.all(ctx.config.mailboxes.map((m) => each(ctx, m)))).flat());
}
