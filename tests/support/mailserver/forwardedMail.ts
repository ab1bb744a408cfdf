// A forwarded mail as the tests send it: the mission's one shape, a text attachment paperless consumes.
import { randomBytes } from "node:crypto";

/** A forwarded mail from `from` to `to` with a .txt attachment; returns it with its Message-ID. */
export function forwardedMail(from: string, to: string, subject: string): { id: string; text: string } {
  const attachment = [
    'Content-Type: text/plain; charset=utf-8; name="statement.txt"',
    'Content-Disposition: attachment; filename="statement.txt"',
    "",
    `Statement for ${subject}: 42.00 EUR`,
    "",
  ].join("\r\n");
  return forwardedMailWith(from, to, subject, attachment);
}

/**
 * A forwarded mail whose one file is `part` (a MIME part: its headers, a blank line, its body),
 * after the forwarder's `note`; returns it with its Message-ID.
 */
export function forwardedMailWith(
  from: string,
  to: string,
  subject: string,
  part: string,
  { date = new Date(), note = "Forwarded, see the attachment." }: { date?: Date; note?: string } = {},
): { id: string; text: string } {
  const id = `<${randomBytes(8).toString("hex")}@forwarded.test>`;
  const boundary = `b-${randomBytes(6).toString("hex")}`;
  const text = [
    `From: ${from}`,
    `To: ${to}`,
    `Subject: ${subject}`,
    `Date: ${date.toUTCString()}`,
    `Message-ID: ${id}`,
    "MIME-Version: 1.0",
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    "",
    `--${boundary}`,
    "Content-Type: text/plain; charset=utf-8",
    "",
    note,
    "",
    `--${boundary}`,
    part,
    `--${boundary}--`,
    "",
  ].join("\r\n");
  return { id, text };
}
