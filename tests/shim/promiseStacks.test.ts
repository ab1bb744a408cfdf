// A dynamic resource is registered without the SDK's promise stacks, which only
// PULUMI_DEBUG_PROMISE_LEAKS prints (docs/performance.md#promise-stacks), and leaves the process's
// stack limit as it found it. Pulumi mocks: the registration's promises are the SDK's own.
import * as pulumi from "@pulumi/pulumi";
import { RandomText } from "../../providers/random/resources";

// The SDK's set of pending promises, each with the stack it recorded (runtime/debuggable.js).
const sdkState = require("@pulumi/pulumi/runtime/state") as { getStore(): { leakCandidates: Set<{ _debugStackTrace?: string }> } };

let n = 0;
/** The stacks of the promises the SDK made while one RandomText was constructed. */
function stacksOfOneRegistration(): string[] {
  const before = new Set(sdkState.getStore().leakCandidates);
  new RandomText(`salt-${n++}`, { alphabet: "abcdef", length: 12, secret: false });
  const made = [...sdkState.getStore().leakCandidates].filter((p) => !before.has(p));
  expect(made.length).toBeGreaterThan(0);
  return made.map((p) => String(p._debugStackTrace));
}

const hasFrames = (stack: string) => /\n\s+at /.test(stack);

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    { newResource: async (a) => ({ id: `${a.name}-id`, state: a.inputs }), call: async () => ({}) },
    "paperless-mail-ingest",
    "prod",
    true,
  );
});

afterEach(() => {
  delete process.env.PULUMI_DEBUG_PROMISE_LEAKS;
});

test("its promises carry no stack, and the stack limit is the process's again afterwards", () => {
  const limit = Error.stackTraceLimit;
  const stacks = stacksOfOneRegistration();
  expect(stacks.filter(hasFrames)).toEqual([]);
  expect(Error.stackTraceLimit).toBe(limit);
  expect(hasFrames(new Error().stack ?? "")).toBe(true);
});

test("with PULUMI_DEBUG_PROMISE_LEAKS set, its promises keep their stacks for the SDK's leak report", () => {
  process.env.PULUMI_DEBUG_PROMISE_LEAKS = "1";
  expect(stacksOfOneRegistration().every(hasFrames)).toBe(true);
});

test("a registration the SDK refuses leaves the limit as it was", () => {
  const limit = Error.stackTraceLimit;
  expect(() => new RandomText("", { alphabet: "abcdef", length: 12, secret: false })).toThrow(/name/);
  expect(Error.stackTraceLimit).toBe(limit);
});
