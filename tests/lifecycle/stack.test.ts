// The whole production stack through its life, as `pulumi up` would take it: index.ts runs under
// mocks for each version of the config (what changes, across every resource), and the program's
// own inputs for the dynamic resources go through the real providers over loopback HTTP to the
// paperless and Kubernetes emulators (what those changes do on the servers).
import { readFileSync } from "fs";
import { parse } from "yaml";
import type * as pulumi from "@pulumi/pulumi";
import { configMapLinesProvider } from "../../providers/kubernetes/configMapLines";
import type { KubeConnection } from "../../providers/kubernetes/kubeClient";
import { mailAccountProvider, mailRuleProvider, tagProvider } from "../../providers/paperless/provider";
import { KubeApiEmulator } from "../mailserver/kubeApiEmulator";
import { startPaperlessEmulator, type PaperlessEmulator } from "../paperless/paperlessEmulator";
import { ProviderDriver, type DesiredResource } from "../paperless/providerDriver";
import { fastHttp } from "../paperless/support";
import { PROD_STACK_FILE, prodUsers } from "../support/prodConfig";
import { keyOf, planChanges, runProgram, type RecordedResource, type StackConfigValues } from "../support/programUnderMocks";

fastHttp();

const P = "paperless-mail-ingest";
const DYN = "pulumi-nodejs:dynamic/";
const MAILBOX = "docs-at-viktorbarzin.me";
const CONFIGMAP = `kubernetes:core/v1:ConfigMap::${MAILBOX}`;
const rule = (sender: string) => `${DYN}paperless:MailRule::${MAILBOX}-rule-${sender}`;
// The shared mailserver files as another owner (Terraform) keeps them.
const OTHER_ACCOUNTS = "spam@viktorbarzin.me|{SHA512-CRYPT}$6$x$y\n# kept comment\n";
const OTHER_VIRTUAL = "@viktorbarzin.me spam@viktorbarzin.me\n";

let paperless: PaperlessEmulator;
let kube: KubeApiEmulator;
let providers: Record<string, pulumi.dynamic.ResourceProvider>;

beforeAll(async () => {
  paperless = await startPaperlessEmulator({ users: prodUsers() });
  kube = await new KubeApiEmulator().start();
  kube.put("mailserver", "mailserver.config", { "postfix-accounts.cf": OTHER_ACCOUNTS, "postfix-virtual.cf": OTHER_VIRTUAL });
  const conn: KubeConnection = { server: kube.url, options: { headers: { authorization: "Bearer t" } } };
  providers = {
    [`${DYN}paperless:MailAccount`]: mailAccountProvider,
    [`${DYN}paperless:Tag`]: tagProvider,
    [`${DYN}paperless:MailRule`]: mailRuleProvider,
    [`${DYN}${P}:ConfigMapLines`]: configMapLinesProvider(async () => conn),
  };
});
afterAll(async () => {
  await paperless.close();
  await kube.stop();
});

/** The production stack file, aimed at the emulator, with the sender list edited by `edit`. */
function stack(edit: (senders: any[]) => void = () => {}): StackConfigValues {
  const config = parse(readFileSync(PROD_STACK_FILE, "utf8")).config as StackConfigValues;
  const mailboxes = JSON.parse(JSON.stringify(config[`${P}:mailboxes`]));
  edit(mailboxes[0].senders);
  return {
    ...config,
    [`${P}:mailboxes`]: mailboxes,
    [`${P}:paperless`]: { ...(config[`${P}:paperless`] as object), url: paperless.url },
    [`${P}:paperlessToken`]: paperless.token,
  };
}

/** The dynamic resources the real providers manage, from the program's own recorded inputs. */
function desired(resources: Map<string, RecordedResource>): DesiredResource[] {
  const out: DesiredResource[] = [];
  const rulesDependOn = [...resources.values()]
    .filter((r) => r.type === `${DYN}paperless:MailAccount` || r.type === `${DYN}paperless:Tag`).map(keyOf);
  for (const r of resources.values()) {
    const provider = providers[r.type];
    if (!provider || !r.inputs) continue;
    const { __provider: _serialized, ...inputs } = r.inputs;
    out.push({ name: keyOf(r), provider, inputs, ...(r.type === `${DYN}paperless:MailRule` ? { dependsOn: rulesDependOn } : {}) });
  }
  return out;
}

const driver = new ProviderDriver();
const randomState = new Map<string, string>();
let deployed = new Map<string, RecordedResource>();

/** One `pulumi up`: the planned changes across all resources, and what the providers did. */
async function up(config: StackConfigValues) {
  const run = await runProgram(config, { secretKeys: [`${P}:paperlessToken`], state: randomState });
  const changes = planChanges(deployed, run.resources);
  paperless.resetCounters();
  kube.requests.length = 0;
  const steps = await driver.up(desired(run.resources));
  deployed = run.resources;
  return { changes, steps: steps.filter((s) => s.op !== "same") };
}

const paperlessWrites = () => paperless.writes.length;
const kubeWrites = () => kube.requests.filter((r) => r.method !== "GET").length;
const accountsFile = () => kube.get("mailserver", "mailserver.config")!.data!["postfix-accounts.cf"]!;
const virtualFile = () => kube.get("mailserver", "mailserver.config")!.data!["postfix-virtual.cf"]!;
const serverRule = (name: string) => paperless.rules.find((r) => r.name === name);
const owner = (name: string) => paperless.users.find((u) => u.id === serverRule(name)?.owner)?.username;

describe("production stack lifecycle", () => {
  test("1. first deploy creates everything, and the servers hold exactly the declared state", async () => {
    const { changes, steps } = await up(stack());
    expect(changes.every((c) => c.op === "create")).toBe(true);
    expect(changes.map((c) => c.key)).toEqual(expect.arrayContaining([CONFIGMAP, rule("me@viktorbarzin.me"), rule("emil.barzin@gmail.com")]));
    expect(steps.every((s) => s.op === "create")).toBe(true);
    expect(paperless.accounts.map((a) => a.name)).toEqual(["docs@viktorbarzin.me"]);
    expect(paperless.rules.map((r) => `${r.name}=${owner(r.name as string)}`).sort()).toEqual([
      "forward: Anca=anca", "forward: Emo=emo", "forward: Viktor (gmail)=root", "forward: Viktor (me@)=root", "forward: Viktor (meta)=root",
    ]);
    expect(accountsFile().startsWith(OTHER_ACCOUNTS)).toBe(true);
    expect(accountsFile()).toMatch(/\ndocs@viktorbarzin\.me\|\{SHA512-CRYPT\}\$6\$/);
    expect(virtualFile()).toContain(`${OTHER_VIRTUAL}# BEGIN ${P} docs@viktorbarzin.me\ndocs@viktorbarzin.me docs@viktorbarzin.me\n`);
  });

  test("2. a second deploy with nothing changed changes nothing anywhere", async () => {
    const { changes, steps } = await up(stack());
    expect(changes).toEqual([]);
    expect(steps).toEqual([]);
    expect(paperlessWrites()).toBe(0);
    expect(kubeWrites()).toBe(0);
  });

  test("3. adding a sender changes exactly the sieve ConfigMap and one new mail rule", async () => {
    const accountsBefore = accountsFile();
    const { changes, steps } = await up(stack((s) => s.push({ address: "anca.work@example.com", user: "anca", label: "Anca (work)" })));
    expect(changes).toEqual([{ op: "update", key: CONFIGMAP }, { op: "create", key: rule("anca.work@example.com") }]);
    expect(steps).toEqual([{ op: "create", name: rule("anca.work@example.com") }]);
    expect(serverRule("forward: Anca (work)")).toMatchObject({ filter_from: "anca.work@example.com", action: 2, action_parameter: "Processed" });
    expect(accountsFile()).toBe(accountsBefore);
    expect(kubeWrites()).toBe(0);
  });

  test("4. changing a sender's owner updates that one rule in place", async () => {
    const id = serverRule("forward: Emo")!.id;
    const { changes, steps } = await up(stack((s) => {
      s.push({ address: "anca.work@example.com", user: "anca", label: "Anca (work)" });
      s.find((x) => x.label === "Emo").user = "anca";
    }));
    expect(changes).toEqual([{ op: "update", key: rule("emil.barzin@gmail.com") }]);
    expect(steps).toEqual([{ op: "update", name: rule("emil.barzin@gmail.com") }]);
    expect(serverRule("forward: Emo")!.id).toBe(id);
    expect(owner("forward: Emo")).toBe("anca");
  });

  test("5. removing a sender deletes its rule and updates the sieve", async () => {
    const { changes, steps } = await up(stack((s) => s.find((x) => x.label === "Emo").user = "anca"));
    expect(changes.sort((a, b) => a.key.localeCompare(b.key))).toEqual([
      { op: "update", key: CONFIGMAP }, { op: "delete", key: rule("anca.work@example.com") },
    ]);
    expect(steps).toEqual([{ op: "delete", name: rule("anca.work@example.com") }]);
    expect(serverRule("forward: Anca (work)")).toBeUndefined();
    expect(paperless.rules).toHaveLength(5);
  });

  test("6. a rule edited by hand shows as drift on refresh and the next deploy restores it", async () => {
    const edited = serverRule("forward: Anca")!;
    Object.assign(edited, { filter_from: "someone@else.test", action: 3 });
    await driver.refresh();
    const current = stack((s) => s.find((x) => x.label === "Emo").user = "anca");
    expect(await driver.preview(desired((await runProgram(current, { secretKeys: [`${P}:paperlessToken`], state: randomState })).resources)))
      .toContainEqual({ op: "update", name: rule("ancaelena98@gmail.com") });
    const { steps } = await up(current);
    expect(steps).toEqual([{ op: "update", name: rule("ancaelena98@gmail.com") }]);
    expect(serverRule("forward: Anca")).toMatchObject({ filter_from: "ancaelena98@gmail.com", action: 2 });
  });

  test("7. destroy removes everything it made; the tag survives while documents use it; the shared files keep only their other lines", async () => {
    const tag = paperless.tags.find((t) => t.name === "email-ingest")!;
    paperless.addDocument("Bank statement", [tag.id]);
    await driver.destroy();
    expect(paperless.accounts).toEqual([]);
    expect(paperless.rules).toEqual([]);
    expect(paperless.tags.map((t) => t.name)).toEqual(["email-ingest"]);
    expect(accountsFile()).toBe(OTHER_ACCOUNTS);
    expect(virtualFile()).toBe(OTHER_VIRTUAL);
  });
});
