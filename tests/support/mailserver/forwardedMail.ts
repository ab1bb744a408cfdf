// A forwarded mail as the tests send it: the mission's one shape, a text attachment paperless consumes.
import { randomBytes } from "node:crypto";

/** A forwarded mail from `from` to `to` with a .txt attachment; returns it with its Message-ID. */
export function forwardedMail(from: string, to: string, subject: string): { id: string; text: string } {
  const id = `<${randomBytes(8).toString("hex")}@forwarded.test>`;
  const boundary = `b-${randomBytes(6).toString("hex")}`;
  const text = [
    `From: ${from}`,
    `To: ${to}`,
    `Subject: ${subject}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: ${id}`,
    "MIME-Version: 1.0",
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    "",
    `--${boundary}`,
    "Content-Type: text/plain; charset=utf-8",
    "",
    "Forwarded, see the attachment.",
    "",
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8; name="statement.txt"',
    'Content-Disposition: attachment; filename="statement.txt"',
    "",
    `Statement for ${subject}: 42.00 EUR`,
    "",
    `--${boundary}--`,
    "",
  ].join("\r\n");
  return { id, text };
}
