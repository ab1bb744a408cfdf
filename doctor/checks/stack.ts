// The stack itself: is what its configuration declares what its last `pulumi up` deployed? Every
// other check compares the live systems with the configuration, so a sender added to the file but
// never applied shows here first, by name.
import { createHash } from "node:crypto";
import { renderSieve } from "../../core/sieve";
import { type Check, passed, problems, verdict } from "../check";
import type { DoctorContext } from "../context";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

export const stackChecks: Check<DoctorContext>[] = [
  {
    id: "stack.deployed",
    group: "stack",
    description: "the stack's last `pulumi up` deployed its configuration (senders, owners, sieve)",
    async run(ctx) {
      const p = problems("stack.deployed");
      const outputs = ctx.stack.outputs;
      if (!outputs) return verdict([p.fail(`stack ${ctx.stack.name} has no outputs: it was never deployed`, "run `pulumi up`")]);
      const found = ctx.config.mailboxes.flatMap((m) => {
        const out = outputs[m.address];
        if (!out) return [p.fail(`mailbox ${m.address} is configured but not deployed`, "run `pulumi up`")];
        const deployed = out.senders ?? {};
        const missing = m.senders
          .filter((s) => deployed[s.address] === undefined || out.ruleIds?.[s.address] === undefined)
          .map((s) => s.address);
        const removed = Object.keys(deployed).filter((a) => !m.senders.some((s) => s.address === a));
        const owner = m.senders
          .filter((s) => deployed[s.address] !== undefined && deployed[s.address] !== s.user)
          .map((s) => `${s.address} (deployed owner ${deployed[s.address]}, configured ${s.user})`);
        return [
          ...(missing.length
            ? [p.fail(`${m.address}: sender(s) ${missing.join(", ")} configured but not deployed`, "run `pulumi up`")]
            : []),
          ...(removed.length
            ? [p.fail(`${m.address}: sender(s) ${removed.join(", ")} removed from the configuration but still deployed`, "run `pulumi up`")]
            : []),
          ...(owner.length ? [p.fail(`${m.address}: owner changed but not deployed: ${owner.join(", ")}`, "run `pulumi up`")] : []),
          ...(out.sieveSha256 !== sha256(renderSieve(m))
            ? [
                p.fail(
                  `${m.address}: the deployed sieve (sha256 ${out.sieveSha256?.slice(0, 12) ?? "none"}…) is not the one this configuration renders ` +
                    `(${sha256(renderSieve(m)).slice(0, 12)}…)`,
                  "run `pulumi up`",
                ),
              ]
            : []),
        ];
      });
      const stale = Object.keys(outputs).filter((a) => !ctx.config.mailboxes.some((m) => m.address === a));
      if (stale.length)
        found.push(p.fail(`mailbox(es) ${stale.join(", ")} removed from the configuration but still deployed`, "run `pulumi up`"));
      return found.length
        ? verdict(found)
        : passed(`${ctx.config.mailboxes.length} mailbox(es), ${ctx.config.mailboxes.reduce((n, m) => n + m.senders.length, 0)} sender(s)`);
    },
  },
];
