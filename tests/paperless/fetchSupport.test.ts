// Which paperless-ngx can be asked to fetch mail through its API, and which records the fetch as a
// task: decided from what the server announces (X-Version, X-Api-Version). The servers themselves
// are exercised in tests/paperless/mailFetch.test.ts and tests/e2e/mission.test.ts.
import { fetchUnsupported, recordsFetchTasks } from "../../providers/paperless/mailFetch";

const URL = "http://paperless.test";

describe("fetchUnsupported", () => {
  it.each(["2.14.0", "2.14.7", "2.20.15", "3.0.5", "10.0.0", "2.14"])("%s can be asked", (serverVersion) => {
    expect(fetchUnsupported({ serverVersion, apiVersion: 9 }, URL)).toBeUndefined();
  });

  it.each(["2.13.5", "2.9.0", "1.17.4", "0.9"])("%s gets a named error saying which release added the request", (serverVersion) => {
    expect(fetchUnsupported({ serverVersion, apiVersion: 5 }, URL)).toBe(
      `paperless-ngx ${serverVersion} at ${URL} cannot be asked to fetch mail: ` +
        "POST /api/mail_accounts/{id}/process/ arrived in paperless-ngx 2.14.0; upgrade paperless-ngx",
    );
  });

  it("a server that does not announce its version is asked (its answer then tells)", () => {
    expect(fetchUnsupported({ serverVersion: undefined, apiVersion: undefined }, URL)).toBeUndefined();
    expect(fetchUnsupported({ serverVersion: "dev", apiVersion: 9 }, URL)).toBeUndefined();
  });
});

describe("recordsFetchTasks", () => {
  it("3.x records a mail fetch as a task, 2.x does not", () => {
    expect(recordsFetchTasks({ serverVersion: "3.0.5", apiVersion: 10 })).toBe(true);
    expect(recordsFetchTasks({ serverVersion: "2.20.15", apiVersion: 9 })).toBe(false);
  });

  it("without X-Version, the API version decides (10 is 3.x only)", () => {
    expect(recordsFetchTasks({ serverVersion: undefined, apiVersion: 10 })).toBe(true);
    expect(recordsFetchTasks({ serverVersion: undefined, apiVersion: 9 })).toBe(false);
    expect(recordsFetchTasks({ serverVersion: undefined, apiVersion: undefined })).toBe(false);
  });
});
