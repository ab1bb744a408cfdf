// Every check, in the order the report shows them: the stack, then each system along the mail's
// path (mailserver, mailbox, paperless), the backlog last (it joins the mailbox with paperless).
import type { Check } from "./check";
import { backlogCheck } from "./checks/backlog";
import { mailboxChecks } from "./checks/mailbox";
import { mailserverChecks } from "./checks/mailserver";
import { paperlessChecks } from "./checks/paperless";
import { stackChecks } from "./checks/stack";
import type { DoctorContext } from "./context";

export const CHECKS: readonly Check<DoctorContext>[] = [
  ...stackChecks,
  ...mailserverChecks,
  ...mailboxChecks,
  ...paperlessChecks,
  backlogCheck,
];
