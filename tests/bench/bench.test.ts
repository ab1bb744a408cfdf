// `npm run bench`'s own logic, without the engine: the generated stacks, the budget rules and the
// report, the doctor and whole-program steps' included. The measurements themselves are the bench's run (`npm test` runs a quick one, N=5,50).
import { readFileSync } from "fs";
import { parse as parseYaml } from "yaml";
import { BUDGETS, budgetProblems, STEPS, table, withSenders, type BenchRun, type Step } from "./bench";
import { doctorBudgetProblems, doctorTable, type DoctorBenchRun } from "./doctorBench";
import { programBudgetProblems, programTable, requestCounters, type ProgramBenchRun } from "./programBench";
import { parseConfig } from "../../stack/config";
import { fromStackFile } from "../../stack/stackConfig";
import { PROD_STACK_FILE } from "../support/prodConfig";

describe("the generated stack", () => {
  const raw = fromStackFile((parseYaml(readFileSync(PROD_STACK_FILE, "utf8")) as { config: Record<string, unknown> }).config).raw;

  test.each([1, 5, 500])("N=%i: valid, the production senders first, exactly N senders", (n) => {
    const result = parseConfig(withSenders(raw, n));
    if (!result.ok) throw new Error(result.problems.join("\n"));
    const senders = result.config.mailboxes[0]!.senders;
    expect(senders).toHaveLength(n);
    expect(senders.slice(0, 5).map((s) => s.address)).toEqual(
      ["me@viktorbarzin.me", "vbarzin@gmail.com", "viktorbarzin@meta.com", "ancaelena98@gmail.com", "emil.barzin@gmail.com"].slice(0, n),
    );
    expect(new Set(senders.map((s) => s.ruleName)).size).toBe(n);
  });

  test("owners grow with N: one generated user per ten senders besides production's", () => {
    const owners = (n: number) => {
      const result = parseConfig(withSenders(raw, n));
      if (!result.ok) throw new Error(result.problems.join("\n"));
      return new Set(result.config.mailboxes[0]!.senders.map((s) => s.user));
    };
    expect(owners(5)).toEqual(new Set(["root", "anca", "emo"]));
    expect(owners(500).size).toBe(3 + 50);
  });
});

const steps = (ms: number): Record<Step, number> => Object.fromEntries(STEPS.map((s) => [s, ms])) as Record<Step, number>;
const run = (senders: number, over: Partial<BenchRun> = {}): BenchRun => ({
  senders,
  previewRatio: 1.1,
  noChangeUpRatio: 1.1,
  refreshRatio: 1.1,
  firstUpRatio: 1.5,
  stateBytesPerSender: 1200,
  refreshRequests: 5,
  previewRequests: 4,
  noChangeUpRequests: 4,
  renderMs: 3,
  floorMs: steps(1000),
  oursMs: steps(1100),
  stateBytes: { floor: 2000 * senders, ours: 3200 * senders + 9000 },
  resourceBytes: { floor: 2000, ours: 3200 },
  repetitions: 3,
  ...over,
});

describe("budgetProblems", () => {
  test("every budget met: no problem", () => {
    expect(budgetProblems([run(5), run(50), run(500)])).toEqual([]);
  });

  test("each ratio and the state size over its budget is named with its value, the budget and N", () => {
    expect(budgetProblems([run(5), run(500, { previewRatio: 1.51, firstUpRatio: 2.01, stateBytesPerSender: 2049 })])).toEqual([
      "N=500: previewRatio 1.51 > 1.5",
      "N=500: firstUpRatio 2.01 > 2",
      "N=500: stateBytesPerSender 2049 > 2048",
    ]);
    expect(budgetProblems([run(5, { noChangeUpRatio: 1.6, refreshRatio: 1.7 })])).toEqual([
      "N=5: noChangeUpRatio 1.6 > 1.5",
      "N=5: refreshRatio 1.7 > 1.5",
    ]);
    // At the budget is within it.
    expect(budgetProblems([run(5, { previewRatio: BUDGETS.previewRatio, stateBytesPerSender: BUDGETS.stateBytesPerSender })])).toEqual([]);
  });

  test("the quick form checks state, requests and render time, not the time ratios", () => {
    const slow = run(50, { previewRatio: 3, noChangeUpRatio: 3, refreshRatio: 3, firstUpRatio: 5 });
    expect(budgetProblems([run(5), slow], false)).toEqual([]);
    expect(budgetProblems([run(5), slow])).toHaveLength(4);
    expect(budgetProblems([run(5), run(50, { stateBytesPerSender: 4000, refreshRequests: 9, renderMs: 1500 })], false)).toEqual([
      "N=50: stateBytesPerSender 4000 > 2048",
      "N=50: renderMs 1500 >= 1000",
      "N=50: refreshRequests 9 > 5 (N=5 made 5): paperless requests grow with N",
    ]);
  });

  test("paperless requests that grow with N are a problem, against the smallest N", () => {
    expect(budgetProblems([run(50, { refreshRequests: 6 }), run(5)])).toEqual([
      "N=50: refreshRequests 6 > 5 (N=5 made 5): paperless requests grow with N",
    ]);
    expect(budgetProblems([run(5), run(500, { previewRequests: 5, noChangeUpRequests: 504 })])).toHaveLength(2);
  });

  test("beyond 1000 rules a list takes a second page: two more requests (rules, users) are allowed", () => {
    expect(budgetProblems([run(5), run(1500, { refreshRequests: 7 })])).toEqual([]);
    expect(budgetProblems([run(5), run(1500, { refreshRequests: 8 })])).toHaveLength(1);
  });

  test("render at or over 1 s up to N=500 is a problem", () => {
    expect(budgetProblems([run(500, { renderMs: 1000 })])).toEqual(["N=500: renderMs 1000 >= 1000"]);
    expect(budgetProblems([run(5000, { renderMs: 4000 })])).toEqual([]);
  });
});

test("the table has a row per step, the state and the requests, with each ratio's headroom", () => {
  const lines = table([run(5, { previewRatio: 1.35 })]).split("\n");
  expect(lines[0]).toMatch(/^N\s+step\s+floor ms\s+ours ms\s+ratio\s+budget\s+headroom$/);
  expect(lines).toHaveLength(1 + STEPS.length + 3);
  expect(lines.find((l) => /\bpreview\b/.test(l))).toMatch(/1000\s+1100\s+1\.35\s+≤ 1\.5\s+10%$/);
  expect(lines.find((l) => l.includes("state B/sender"))).toMatch(/2000\s+3200\s+\+1200\s+≤ \+2048\s+41%$/);
  expect(lines.find((l) => l.includes("paperless req"))).toContain("preview 4, up 4, refresh 5");
});

describe("the doctor step", () => {
  const requests = { kubernetes: 4, exec: 1, vault: 1, imap: 6, paperless: 9 };
  const doctorRun = (senders: number, over: Partial<DoctorBenchRun> = {}): DoctorBenchRun => ({
    senders,
    wallMs: 9000,
    reportMs: 5000,
    requests,
    repetitions: 3,
    ...over,
  });

  test("requests per system that grow from 5 to 50 senders are a problem, naming the system; a run at 5 senders over 15 s is one when timed", () => {
    expect(doctorBudgetProblems([doctorRun(5), doctorRun(50)])).toEqual([]);
    expect(doctorBudgetProblems([doctorRun(50, { requests: { ...requests, paperless: 54 } }), doctorRun(5)])).toEqual([
      "doctor N=50: paperless requests 54 > 9 (N=5): they grow with the number of senders",
    ]);
    expect(doctorBudgetProblems([doctorRun(5, { wallMs: 15_001 }), doctorRun(50, { wallMs: 30_000 })])).toEqual([
      "doctor N=5: 15001 ms > 15000 ms",
    ]);
    expect(doctorBudgetProblems([doctorRun(5, { wallMs: 15_001 })], false)).toEqual([]);
  });

  test("its table: time per N, the budget at 5 senders, the requests per system", () => {
    const lines = doctorTable([doctorRun(5), doctorRun(50, { wallMs: 11000 })]).split("\n");
    expect(lines[0]).toMatch(/^N\s+doctor\s+wall ms\s+report ms\s+budget\s+requests$/);
    expect(lines[1]).toMatch(/^5\s+healthy run\s+9000\s+5000\s+≤ 15000\s+kubernetes 4, exec 1, vault 1, imap 6, paperless 9$/);
    expect(lines[2]).toMatch(/^50\s+healthy run\s+11000\s+5000\s+-\s+kubernetes 4/);
  });
});

describe("the whole-program step", () => {
  const kube = { "GET deployments": 1, "PATCH deployments (dry run)": 1, "GET configmaps": 2, "CREATE selfsubjectrulesreviews": 1 };
  const programRun = (senders: number, over: Partial<ProgramBenchRun> = {}): ProgramBenchRun => ({
    senders,
    floorMs: { preview: 3000, noChangeUp: 4000 },
    oursMs: { preview: 3600, noChangeUp: 5200 },
    previewRatio: 1.2,
    noChangeUpRatio: 1.3,
    kubeRequests: { preview: kube, noChangeUp: kube },
    repetitions: 3,
    ...over,
  });

  test("a preview at 5 senders over 1.3× the floor is a problem when timed; a second Deployment GET and requests growing with N always", () => {
    expect(programBudgetProblems([programRun(5), programRun(50, { previewRatio: 1.6 })])).toEqual([]);
    expect(programBudgetProblems([programRun(5, { previewRatio: 1.31 })])).toEqual(["program N=5: previewRatio 1.31 > 1.3"]);
    expect(programBudgetProblems([programRun(5, { previewRatio: 1.31 })], false)).toEqual([]);
    const twice = { ...kube, "GET deployments": 2 };
    // `pulumi up` is two operations (its preview, then the update): one GET each.
    expect(programBudgetProblems([programRun(5, { kubeRequests: { preview: kube, noChangeUp: twice } })], false)).toEqual([]);
    expect(
      programBudgetProblems([programRun(5, { kubeRequests: { preview: kube, noChangeUp: { ...kube, "GET deployments": 3 } } })], false),
    ).toEqual(["program N=5: noChangeUp made 3 GETs of deployments in 2 engine operation(s) (one serves each)"]);
    expect(programBudgetProblems([programRun(5), programRun(50, { kubeRequests: { preview: twice, noChangeUp: kube } })], false)).toEqual([
      "program N=50: preview made 2 GETs of deployments in 1 engine operation(s) (one serves each)",
      "program N=50: preview made 6 Kubernetes requests > 5 (N=5): they grow with the number of senders",
    ]);
  });

  test("the API server's request counters, by verb and resource; watches, non-resource URLs and the cluster's background left out", () => {
    const metrics = [
      "# TYPE apiserver_request_total counter",
      'apiserver_request_total{code="200",component="apiserver",dry_run="",group="apps",resource="deployments",scope="resource",subresource="",verb="GET",version="v1"} 7',
      'apiserver_request_total{code="404",component="apiserver",dry_run="",group="apps",resource="deployments",scope="resource",subresource="",verb="GET",version="v1"} 1',
      'apiserver_request_total{code="200",component="apiserver",dry_run="All",group="apps",resource="deployments",scope="resource",subresource="",verb="PATCH",version="v1"} 3',
      'apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="configmaps",scope="resource",subresource="",verb="WATCH",version="v1"} 9',
      'apiserver_request_total{code="200",component="",dry_run="",group="",resource="",scope="",subresource="",verb="GET",version=""} 40',
      'apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="exec",verb="CONNECT",version="v1"} 2',
      'apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 5',
      'apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="nodes",scope="resource",subresource="status",verb="PATCH",version="v1"} 5',
      'apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="endpoints",scope="resource",subresource="",verb="PUT",version="v1"} 1',
      'apiserver_request_duration_seconds_count{verb="GET",resource="deployments"} 8',
    ].join("\n");
    expect(Object.fromEntries(requestCounters(metrics))).toEqual({
      "GET deployments": 8,
      "PATCH deployments (dry run)": 3,
      "CONNECT pods/exec": 2,
    });
  });

  test("its table: floor, ours and the ratio per step, the budget at 5 senders, the Kubernetes requests", () => {
    const lines = programTable([programRun(5), programRun(50)]).split("\n");
    expect(lines[0]).toMatch(/^N\s+program\s+floor ms\s+ours ms\s+ratio\s+budget\s+Kubernetes requests$/);
    expect(lines[1]).toMatch(
      /^5\s+preview\s+3000\s+3600\s+1\.20\s+≤ 1\.3\s+GET deployments 1, PATCH deployments \(dry run\) 1, GET configmaps 2/,
    );
    expect(lines[2]).toMatch(/^5\s+noChangeUp\s+4000\s+5200\s+1\.30\s+-\s+GET deployments 1/);
    expect(lines[3]).toMatch(/^50\s+preview\s+3000\s+3600\s+1\.20\s+-\s+/);
  });
});
