// Keys an earlier version of the program read: a stack file that still has them is told, for each,
// that it is no longer used and to delete it (not a bare "unknown key").
import { parseConfig } from "../../stack/config";

const withPaperless = (paperless: Record<string, unknown>) => ({
  mailboxes: [{ address: "docs@example.org", senders: [{ address: "a@example.net", user: "alice" }] }],
  mailserver: { imapHost: "imap.example.org" },
  paperless: { url: "http://paperless.example.org", ...paperless },
});

describe("the paperless pod's location (read for kubectl exec until the fetch went through the API)", () => {
  it("each of namespace, deployment, container is named, with why it is gone and what to do", () => {
    const result = parseConfig(
      withPaperless({ namespace: "paperless-ngx", deployment: "paperless-ngx", container: "paperless-ngx", fetchAfterChange: true }),
    );
    expect(result.ok ? [] : result.problems).toEqual(
      ["namespace", "deployment", "container"].map(
        (k) =>
          `paperless.${k}: no longer used: the fetch after a change goes through paperless's API, not kubectl exec into its pod; delete this key`,
      ),
    );
  });

  it("without them the same stack validates, fetchAfterChange kept", () => {
    const result = parseConfig(withPaperless({ fetchAfterChange: true }));
    expect(result.ok && result.config.paperless).toEqual({ url: "http://paperless.example.org", fetchAfterChange: true });
  });

  it("a key of the same name elsewhere is still just unknown", () => {
    const raw = withPaperless({});
    (raw.mailboxes[0] as Record<string, unknown>).container = "x";
    const result = parseConfig(raw);
    expect(result.ok ? [] : result.problems).toEqual(["mailboxes[0].container: unknown key (check the spelling)"]);
  });
});
