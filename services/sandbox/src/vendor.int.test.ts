import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ToolManifest, ToolOutcome } from "@insitu/tool-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultPolicy } from "./policy.js";
import { Sandbox, VENDOR_DIR, vettedLibraries } from "./sandbox.js";

// The vetted libraries load offline inside the sandbox (no network, read access to vendor/ only).
let sandbox: Sandbox;
beforeAll(() => {
  sandbox = new Sandbox({ policy: defaultPolicy(), concurrency: 2, warm: { perProfile: 0 } });
});
afterAll(async () => {
  await sandbox?.close();
});

function manifest(name: string): ToolManifest {
  return {
    name,
    description: `Vendored library check ${name}.`,
    inputSchema: { type: "object" },
    outputSchema: {},
    permissions: { network: [], secrets: [] },
  };
}

async function run(name: string, code: string, input: unknown = {}): Promise<ToolOutcome> {
  return sandbox.exec({
    tool: { code, manifest: manifest(name) },
    input,
    limits: { timeoutMs: 8000, memoryMb: 512 },
  });
}

// A one-page PDF whose content stream shows "Hello insitu" (offsets computed below).
function tinyPdf(): string {
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 144] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
    "<< /Length 44 >>\nstream\nBT /F1 18 Tf 20 60 Td (Hello insitu) Tj ET\nendstream",
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
  ];
  let body = "%PDF-1.4\n";
  const offsets: number[] = [];
  objects.forEach((object, index) => {
    offsets.push(body.length);
    body += `${index + 1} 0 obj\n${object}\nendobj\n`;
  });
  const xref = body.length;
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) body += `${String(offset).padStart(10, "0")} 00000 n \n`;
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(body, "latin1").toString("base64");
}

describe("vetted libraries", () => {
  it("the lock file lists every bundle with its digest", () => {
    const lock = JSON.parse(readFileSync(join(VENDOR_DIR, "vendor.lock.json"), "utf8")) as Record<
      string,
      { file: string }
    >;
    const map = JSON.parse(readFileSync(join(VENDOR_DIR, "import-map.json"), "utf8")) as {
      imports: Record<string, string>;
    };
    expect(Object.keys(map.imports).sort()).toEqual(Object.keys(lock).sort());
    expect(vettedLibraries().map((library) => library.specifier)).toEqual(Object.keys(lock).sort());
  });

  it.concurrent.each([
    [
      "eval_expression",
      'import { evaluate } from "mathjs"; export default async () => ({ value: evaluate("sqrt(16) + 2"), length: evaluate("2 inch to cm").toString() });',
      { value: 6, length: "5.08 cm" },
    ],
    [
      "parse_csv",
      'import Papa from "papaparse"; export default async () => Papa.parse("a,b\\n1,2\\n3,4", { header: true, dynamicTyping: true }).data;',
      [
        { a: 1, b: 2 },
        { a: 3, b: 4 },
      ],
    ],
    [
      "format_date",
      'import dayjs from "dayjs"; export default async () => ({ day: dayjs.utc("2024-02-29T12:00:00Z").add(1, "year").format("YYYY-MM-DD"), tz: dayjs.utc("2024-06-01T12:00:00Z").tz("Europe/Paris").format("HH:mm") });',
      { day: "2025-02-28", tz: "14:00" },
    ],
    [
      "html_to_text",
      'import { convert } from "html-to-text"; export default async () => ({ text: convert("<h1>Title</h1><p>Some <b>bold</b> text.</p>", { wordwrap: false }) });',
      { text: "TITLE\n\nSome bold text." },
    ],
    [
      "parse_xml",
      'import { XMLParser } from "fast-xml-parser"; export default async () => new XMLParser().parse("<a><b>1</b><b>2</b></a>");',
      { a: { b: [1, 2] } },
    ],
    [
      "roundtrip_sheet",
      'import XLSX from "xlsx"; export default async () => { const book = XLSX.utils.book_new(); XLSX.utils.book_append_sheet(book, XLSX.utils.aoa_to_sheet([["x", "y"], [1, 2]]), "S"); const bytes = XLSX.write(book, { type: "array", bookType: "xlsx" }); const back = XLSX.read(bytes, { type: "array" }); return XLSX.utils.sheet_to_json(back.Sheets.S); };',
      [{ x: 1, y: 2 }],
    ],
  ] as const)("%s", async (name, code, expected) => {
    const outcome = await run(name, code);
    expect(outcome, JSON.stringify(outcome).slice(0, 500)).toMatchObject({ status: "ok" });
    if (outcome.status === "ok") expect(outcome.output).toEqual(expected);
  });

  it("extracts PDF text", async () => {
    const outcome = await run(
      "extract_pdf_text",
      'import { extractText } from "unpdf"; export default async (input: { pdf: string }) => { const bytes = Uint8Array.from(atob(input.pdf), (c) => c.charCodeAt(0)); const { text } = await extractText(bytes, { mergePages: true }); return { text }; };',
      { pdf: tinyPdf() },
    );
    expect(outcome, JSON.stringify(outcome).slice(0, 500)).toMatchObject({
      status: "ok",
      output: { text: "Hello insitu" },
    });
  });

  it("a tool may read the vendor folder but never write it", async () => {
    const outcome = await run(
      "write_vendor",
      `export default async () => { Deno.writeTextFileSync(${JSON.stringify(join(VENDOR_DIR, "mathjs.js"))}, "x"); };`,
    );
    expect(outcome).toMatchObject({ status: "PERMISSION_DENIED", permission: { kind: "write" } });
  });
});
