// The canary's attachment: a one-page PDF with a text layer (born-digital: paperless takes its text
// with pdftotext and needs no OCR) naming the canary's unique subject, so the document paperless
// files is recognisably this run's. Written out by hand (a PDF of five objects and its
// cross-reference table, ISO 32000-1 §7.5): no library is needed for two lines of text.

/** PDF literal string: `\`, `(` and `)` escaped; the text is ASCII. */
const literal = (text: string) => `(${text.replace(/[\\()]/g, (c) => `\\${c}`)})`;

export function canaryPdf(text: string): Buffer {
  if (!/^[\x20-\x7e]*$/.test(text)) throw new Error("the canary PDF takes printable ASCII text only");
  // More than 50 characters of text: paperless-ngx 3.x takes a PDF with less for a scan and runs OCR on it.
  const note = "Sent by npm run doctor --canary; deleted again once it was filed.";
  const content = `BT /F1 14 Tf 72 720 Td ${literal(text)} Tj 0 -24 Td ${literal(note)} Tj ET`;
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
  ];
  let out = "%PDF-1.4\n";
  const offsets = objects.map((body, i) => {
    const at = out.length;
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
    return at;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, "0")} 00000 n \n`).join("")}`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, "latin1");
}
