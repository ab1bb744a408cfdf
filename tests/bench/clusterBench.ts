// The bench's steps on the deployed program: one test cluster, Vault and paperless-ngx 3.0.5 with its
// worker (tests/doctor/doctorStack.ts), index.ts deployed by the real CLI at 5 senders, then at 50;
// at each N the doctor step (doctorBench.ts) and the whole-program step (programBench.ts), as asked.
// Starting all that and deploying takes a few minutes, so the quick form leaves these steps out.
import { performance } from "node:perf_hooks";
import { growSenders, startDoctorStack } from "../doctor/doctorStack";
import type { ProgramStack } from "../support/programStack";
import { type DoctorBenchRun, measureDoctorAt } from "./doctorBench";
import { measureProgramAt, programFloor, type ProgramBenchRun } from "./programBench";

export const CLUSTER_SENDERS = [5, 50] as const;

/** The bench's progress rule: a line at least every 20 s, also while the cluster starts or a deploy runs. */
async function saying<T>(what: string, log: (line: string) => void, work: Promise<T>): Promise<T> {
  const started = performance.now();
  log(`${what} …`);
  const timer = setInterval(() => log(`${what}: ${Math.round((performance.now() - started) / 1000)} s`), 20_000);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

export async function measureOnCluster(
  steps: { doctor: boolean; program: boolean },
  repetitions: number,
  log: (line: string) => void,
): Promise<{ doctor: DoctorBenchRun[]; program: ProgramBenchRun[] }> {
  const h = await saying(
    `starting the test cluster, Vault and paperless-ngx 3.0.5 with its worker, deploying index.ts at ${CLUSTER_SENDERS[0]} senders`,
    log,
    startDoctorStack(`e2e-bench-${Math.random().toString(36).slice(2, 8)}`, { senders: CLUSTER_SENDERS[0] }),
  );
  let floor: ProgramStack | undefined;
  const doctor: DoctorBenchRun[] = [];
  const program: ProgramBenchRun[] = [];
  try {
    if (steps.program) floor = await saying("program: deploying the floor (its providers, no resource)", log, programFloor(h));
    for (const n of CLUSTER_SENDERS) {
      if (h.mailboxes[0]!.senders.length !== n) {
        growSenders(h.mailboxes, n);
        await saying(
          `deploying ${n} senders`,
          log,
          h.up().then(() => h.settled()),
        );
      }
      if (steps.doctor) doctor.push(await measureDoctorAt(h, n, repetitions, log));
      if (floor) program.push(await measureProgramAt(h, floor, n, repetitions, log));
    }
  } finally {
    await floor?.dispose();
    await h.stop();
  }
  return { doctor, program };
}
