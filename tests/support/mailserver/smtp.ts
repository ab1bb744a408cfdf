// Minimal SMTP client (RFC 5321): enough to hand one message to Postfix and learn its queue id.
import { LineSocket } from "./lineSocket";

export interface Envelope {
  readonly mailFrom: string;
  readonly rcptTo: readonly string[];
}

/** Reads one (possibly multi-line) reply and fails unless its code is `expected`. */
async function reply(conn: LineSocket, expected: number, step: string): Promise<string> {
  const lines: string[] = [];
  let line: string;
  do {
    line = await conn.readLine();
    lines.push(line);
  } while (line[3] === "-");
  if (Number(line.slice(0, 3)) !== expected) {
    throw new Error(`SMTP ${step}: expected ${expected}, got: ${lines.join(" | ")}`);
  }
  return lines.join("\n");
}

/** Sends `message` (RFC 5322 text, LF or CRLF) and returns Postfix's queue id. */
export async function sendMail(port: number, envelope: Envelope, message: string): Promise<string> {
  const conn = await LineSocket.open(port);
  try {
    await reply(conn, 220, "greeting");
    conn.write("EHLO client.test\r\n");
    await reply(conn, 250, "EHLO");
    conn.write(`MAIL FROM:<${envelope.mailFrom}>\r\n`);
    await reply(conn, 250, "MAIL FROM");
    for (const rcpt of envelope.rcptTo) {
      conn.write(`RCPT TO:<${rcpt}>\r\n`);
      await reply(conn, 250, `RCPT TO:<${rcpt}>`);
    }
    conn.write("DATA\r\n");
    await reply(conn, 354, "DATA");
    // Dot-stuffing (RFC 5321 §4.5.2), then the end-of-data line.
    const body = message
      .replace(/\r?\n/g, "\r\n")
      .replace(/\r\n$/, "")
      .split("\r\n")
      .map((l) => (l.startsWith(".") ? `.${l}` : l))
      .join("\r\n");
    conn.write(`${body}\r\n.\r\n`);
    const queued = await reply(conn, 250, "end of data");
    const id = /queued as ([0-9A-Za-z]+)/.exec(queued)?.[1];
    if (!id) throw new Error(`SMTP end of data: no queue id in: ${queued}`);
    conn.write("QUIT\r\n");
    await reply(conn, 221, "QUIT");
    return id;
  } finally {
    conn.close();
  }
}
