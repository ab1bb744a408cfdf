// Minimal IMAP4rev1 client (RFC 3501): tagged commands and their untagged lines, no literals
// (the commands the tests send never make the server answer with one).
import { LineSocket } from "./lineSocket";

export interface ImapResponse {
  readonly status: "OK" | "NO" | "BAD";
  readonly untagged: readonly string[];
  /** The tagged line's text after the status. */
  readonly text: string;
}

/** RFC 3501 quoted string. */
export function imapQuote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export class ImapClient {
  private tag = 0;

  private constructor(private readonly conn: LineSocket) {}

  static async open(port: number): Promise<ImapClient> {
    const conn = await LineSocket.open(port);
    const greeting = await conn.readLine();
    if (!greeting.startsWith("* OK")) {
      conn.close();
      throw new Error(`IMAP greeting: ${greeting}`);
    }
    return new ImapClient(conn);
  }

  async command(text: string): Promise<ImapResponse> {
    const tag = `a${++this.tag}`;
    this.conn.write(`${tag} ${text}\r\n`);
    const untagged: string[] = [];
    for (;;) {
      const line = await this.conn.readLine();
      if (!line.startsWith(`${tag} `)) {
        untagged.push(line);
        continue;
      }
      const [, status, rest] = /^\S+ (OK|NO|BAD) ?(.*)$/.exec(line) ?? [];
      if (!status) throw new Error(`IMAP: unexpected tagged line: ${line}`);
      return { status: status as ImapResponse["status"], untagged, text: rest ?? "" };
    }
  }

  /** LOGIN; the password is never part of an error message. */
  login(user: string, password: string): Promise<ImapResponse> {
    return this.command(`LOGIN ${imapQuote(user)} ${imapQuote(password)}`);
  }

  /** Sequence numbers of the messages in the selected folder whose header `name` contains `value`. */
  async searchHeader(name: string, value: string): Promise<number[]> {
    const res = await this.command(`SEARCH HEADER ${imapQuote(name)} ${imapQuote(value)}`);
    if (res.status !== "OK") throw new Error(`IMAP SEARCH: ${res.status} ${res.text}`);
    const line = res.untagged.find((l) => l.startsWith("* SEARCH"));
    return (line ?? "").slice("* SEARCH".length).trim().split(/\s+/).filter(Boolean).map(Number);
  }

  async close(): Promise<void> {
    try {
      await this.command("LOGOUT");
    } finally {
      this.conn.close();
    }
  }
}
