// The paperless providers against real paperless-ngx 3.0.5 and 2.20.15 on loopback, faults from
// the proxy in front of each. One server per version serves every suite (a start costs ~15 s);
// the next version's starts while the one before is tested.
import { paperlessInTurn } from "../support/paperless/inTurn";
import { PAPERLESS_VERSIONS } from "../support/paperless/server";
import { prodUsers } from "../support/prodConfig";
import { realPaperless } from "./context";
import { fastHttp } from "./support";
import { badInputTests } from "./suites/badInput";
import { clientTests } from "./suites/client";
import { harnessTests } from "./suites/harness";
import { lifecycleTests } from "./suites/lifecycle";
import { ownershipTests } from "./suites/ownership";
import { providerTests } from "./suites/provider";
import { serializationTests } from "./suites/serialization";
import { superuserTests } from "./suites/superuser";

jest.setTimeout(120_000);
fastHttp();
const serverOf = paperlessInTurn({ users: prodUsers() });

describe.each(PAPERLESS_VERSIONS)("paperless-ngx %s", (version) => {
  const ctx = realPaperless(version, serverOf);
  describe("test harness", () => harnessTests(ctx));
  describe("client", () => clientTests(ctx));
  describe("providers", () => providerTests(ctx));
  describe("serialized providers", () => serializationTests(ctx));
  describe("lifecycle", () => lifecycleTests(ctx));
  describe("what the stack does not own", () => ownershipTests(ctx));
  describe("only a superuser's token", () => superuserTests(ctx));
  describe("bad input", () => badInputTests(ctx));
});
