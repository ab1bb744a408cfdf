// Every check, in the order the report shows them: the stack, then each system along the mail's
// path (mailserver, mailbox).
import type { Check } from "./check";
import { mailboxChecks } from "./checks/mailbox";
import { mailserverChecks } from "./checks/mailserver";
import { stackChecks } from "./checks/stack";
import type { DoctorContext } from "./context";

export const CHECKS: readonly Check<DoctorContext>[] = [...stackChecks, ...mailserverChecks, ...mailboxChecks];
