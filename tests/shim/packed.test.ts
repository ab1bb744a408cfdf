// providers/dynamic/packed.ts: a packed kind's fields travel as one `spec` string, and its provider
// sees exactly what it would see unpacked, in every method the plugin calls.
import type * as pulumi from "@pulumi/pulumi";
import { pack, packedProvider, type Packing, SPEC, stableJson, unpack } from "../../providers/dynamic/packed";

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const SHIM = "exports.handler=()=>…";
const fields = { name: "forward: Anca", owner: "anca", assign_tags: ["email-ingest", "bank"], order: 103, enabled: true };
const ID: Packing = { kept: ["paperlessId"], blank: [] };
const NONE: Packing = { kept: [], blank: [] };

test("stableJson: the same object in any key order gives the same text; arrays keep their order", () => {
  expect(stableJson({ b: 1, a: { d: [2, 1], c: null } })).toBe('{"a":{"c":null,"d":[2,1]},"b":1}');
  expect(stableJson({ a: { c: null, d: [2, 1] }, b: 1 })).toBe(stableJson({ b: 1, a: { d: [2, 1], c: null } }));
});

test("pack keeps the plugin's __provider and the kept outputs beside spec; unpack gives the fields back", () => {
  const packed = pack({ ...fields, paperlessId: 7, __provider: SHIM }, ID);
  expect(Object.keys(packed).sort()).toEqual(["__provider", "paperlessId", SPEC]);
  expect(JSON.parse(packed[SPEC] as string)).toEqual(fields);
  expect(unpack(packed, ID)).toEqual({ ...fields, paperlessId: 7, __provider: SHIM });
  expect(unpack(undefined, ID)).toEqual({});
  expect(unpack({ __provider: SHIM }, ID)).toEqual({ __provider: SHIM }); // a create's olds: nothing yet
});

test('a blank field\'s "" is left out of spec and comes back as ""; a spec that still holds it unpacks the same', () => {
  const packing: Packing = { kept: ["paperlessId"], blank: ["filter_to", "filter_body"] };
  const props = { ...fields, filter_to: "", filter_body: "invoice", folder: "", paperlessId: 7 };
  const packed = pack(props, packing);
  // Only a blank field's "" is left out: another field's "" and a blank field's text stay.
  expect(JSON.parse(packed[SPEC] as string)).toEqual({ ...fields, filter_body: "invoice", folder: "" });
  expect(unpack(packed, packing)).toEqual(props);
  const written = { paperlessId: 7, [SPEC]: stableJson({ ...fields, filter_to: "", filter_body: "invoice", folder: "" }) };
  expect(unpack(written, packing)).toEqual(props);
  expect(unpack({ __provider: SHIM }, packing)).toEqual({ __provider: SHIM }); // no spec: nothing put back
});

describe("packedProvider", () => {
  const calls: { method: string; args: unknown[] }[] = [];
  const inner: pulumi.dynamic.ResourceProvider = {
    async configure(req) {
      calls.push({ method: "configure", args: [req] });
    },
    async check(olds, news) {
      calls.push({ method: "check", args: [olds, news] });
      return { inputs: { ...news, owner: news.owner.toLowerCase() }, failures: [{ property: "owner", reason: "no such user" }] };
    },
    async diff(id, olds, news) {
      calls.push({ method: "diff", args: [id, olds, news] });
      return { changes: olds.owner !== news.owner, replaces: olds.url !== news.url ? ["url"] : [], stables: ["paperlessId"] };
    },
    async create(inputs) {
      calls.push({ method: "create", args: [inputs] });
      return { id: "7", outs: { ...inputs, paperlessId: 7 } };
    },
    async read(id, props) {
      calls.push({ method: "read", args: [id, props] });
      return id === "gone" ? { id: "", props: {} } : { id, props: { ...props, owner: "root" } };
    },
    async update(id, olds, news) {
      calls.push({ method: "update", args: [id, olds, news] });
      return { outs: { ...news, paperlessId: Number(id) } };
    },
    async delete(id, props) {
      calls.push({ method: "delete", args: [id, props] });
    },
  };
  const p = packedProvider(inner, ID);
  const news = pack({ ...fields, owner: "Anca", url: "http://b", __provider: SHIM }, NONE);
  const olds = pack({ ...fields, url: "http://a", paperlessId: 7, __provider: SHIM }, ID);
  beforeEach(() => {
    calls.length = 0;
  });

  test("every method the provider has, and only those; configure gets the request as is", async () => {
    expect(Object.keys(p).sort()).toEqual(["check", "configure", "create", "delete", "diff", "read", "update"]);
    expect(Object.keys(packedProvider({ create: inner.create }, NONE))).toEqual(["create"]);
    const req = { config: { get: () => undefined, require: () => "" } } as unknown as pulumi.dynamic.ConfigureRequest;
    await p.configure!(req);
    expect(calls).toEqual([{ method: "configure", args: [req] }]);
  });

  test("check sees fields and its inputs go back packed; a packed field's failure is the resource's, its reason naming the field", async () => {
    const result = await p.check!({}, news);
    expect(calls[0]!.args).toEqual([{}, unpack(news, ID)]);
    expect(unpack(result.inputs, ID)).toEqual({ ...unpack(news, ID), owner: "anca" });
    expect(result.failures).toEqual([{ property: "", reason: "owner: no such user" }]);
    // Reasons that already start with their field, and failures of kept properties, stay as they are.
    const failing = (failures: pulumi.dynamic.CheckFailure[]) =>
      packedProvider({ ...inner, check: async (_o, n) => ({ inputs: n, failures }) }, ID);
    expect(
      (
        await failing([
          { property: "action", reason: "action 9 must be one of 1, 2" },
          { property: "owner", reason: "owner: gone" },
          { property: "paperlessId", reason: "bad" },
          { property: "", reason: "whole" },
        ]).check!({}, news)
      ).failures,
    ).toEqual([
      { property: "", reason: "action 9 must be one of 1, 2" },
      { property: "", reason: "owner: gone" },
      { property: "paperlessId", reason: "bad" },
      { property: "", reason: "whole" },
    ]);
  });

  test("an unknown spec (an input not known at preview) is neither checked nor diffed: it is a change", async () => {
    const unknown = { [SPEC]: UNKNOWN, __provider: SHIM };
    expect(await p.check!({}, unknown)).toEqual({ inputs: unknown, failures: [] });
    expect(await p.diff!("7", olds, unknown)).toEqual({ changes: true });
    expect(calls).toEqual([]);
  });

  test("diff compares fields; a replacement or a stable field is named as the property that holds it", async () => {
    const result = await p.diff!("7", olds, news);
    expect(calls[0]!.args).toEqual(["7", unpack(olds, ID), unpack(news, ID)]);
    expect(result).toEqual({ changes: true, replaces: [SPEC], stables: ["paperlessId"] });
  });

  test("create, update and read return packed outputs with the kept ones beside spec; delete sees fields", async () => {
    const created = await p.create(news);
    expect(created.id).toBe("7");
    expect(created.outs).toEqual(pack({ ...unpack(news, ID), paperlessId: 7 }, ID));
    expect((await p.update!("7", olds, news)).outs).toEqual(pack({ ...unpack(news, ID), paperlessId: 7 }, ID));
    const read = await p.read!("7", olds);
    expect(read).toEqual({ id: "7", props: pack({ ...unpack(olds, ID), owner: "root" }, ID) });
    expect(await p.read!("gone", olds)).toEqual({ id: "", props: {} }); // gone stays gone
    await p.delete!("7", olds);
    expect(calls.at(-1)).toEqual({ method: "delete", args: ["7", unpack(olds, ID)] });
  });
});
