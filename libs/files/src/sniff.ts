/**
 * Media types are read from a file's first bytes (magic numbers), never from its name or from
 * what a client declares: a `.png` that is really an executable stays `application/octet-stream`.
 */

export const MediaType = {
  png: "image/png",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  pdf: "application/pdf",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  zip: "application/zip",
  json: "application/json",
  csv: "text/csv",
  text: "text/plain",
  binary: "application/octet-stream",
} as const;

function startsWith(bytes: Uint8Array, signature: readonly number[], offset = 0): boolean {
  if (bytes.length < offset + signature.length) return false;
  return signature.every((byte, index) => bytes[offset + index] === byte);
}

function ascii(text: string): number[] {
  return [...text].map((character) => character.charCodeAt(0));
}

/** The media type of `bytes`, from their content only. */
export function sniffMediaType(bytes: Uint8Array): string {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return MediaType.png;
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return MediaType.jpeg;
  if (startsWith(bytes, ascii("GIF87a")) || startsWith(bytes, ascii("GIF89a"))) return MediaType.gif;
  if (startsWith(bytes, ascii("RIFF")) && startsWith(bytes, ascii("WEBP"), 8)) return MediaType.webp;
  if (startsWith(bytes, ascii("%PDF-"))) return MediaType.pdf;
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04])) return sniffZip(bytes);
  return sniffText(bytes);
}

/** OOXML files are zips whose entry names give them away (`xl/…`, `word/…`). */
function sniffZip(bytes: Uint8Array): string {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, 64 * 1024)).toString(
    "latin1",
  );
  if (head.includes("xl/")) return MediaType.xlsx;
  if (head.includes("word/")) return MediaType.docx;
  return MediaType.zip;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** UTF-8 without control characters (other than tab, newlines, form feed) is text. */
function sniffText(bytes: Uint8Array): string {
  const sample = bytes.subarray(0, 64 * 1024);
  let text: string;
  try {
    // A multi-byte character cut at the sample's end is not a reason to call it binary.
    text = decoder.decode(sample.length < bytes.length ? trimPartial(sample) : sample);
  } catch {
    return MediaType.binary;
  }
  if (/[\u0000-\u0008\u000b\u000e-\u001f\u007f]/.test(text)) return MediaType.binary;
  const trimmed = text.trim();
  if (sample.length === bytes.length && /^[[{]/.test(trimmed)) {
    try {
      JSON.parse(trimmed);
      return MediaType.json;
    } catch {
      // not JSON after all
    }
  }
  return looksLikeCsv(text) ? MediaType.csv : MediaType.text;
}

function trimPartial(bytes: Uint8Array): Uint8Array {
  let end = bytes.length;
  // Step back over continuation bytes to the start of the last character.
  while (end > 0 && end > bytes.length - 4 && ((bytes[end - 1] ?? 0) & 0xc0) === 0x80) end--;
  if (end > 0 && ((bytes[end - 1] ?? 0) & 0xc0) === 0xc0) end--;
  return bytes.subarray(0, end);
}

/** At least two lines with the same number (≥ 1) of commas, or of semicolons or tabs. */
function looksLikeCsv(text: string): boolean {
  const lines = text
    .split(/\r?\n/)
    .slice(0, 20)
    .filter((line) => line.trim().length > 0);
  if (lines.length < 2) return false;
  for (const separator of [",", ";", "\t"]) {
    const counts = lines.slice(0, -1).map((line) => line.split(separator).length - 1);
    const first = counts[0] ?? 0;
    if (first >= 1 && counts.every((count) => count === first)) return true;
  }
  return false;
}

/** Image types the model providers accept as inline data. */
export function isImageType(mediaType: string): boolean {
  return ["image/png", "image/jpeg", "image/gif", "image/webp"].includes(mediaType);
}

/** Text-like types, among which a declared type may differ from the sniffed one (CSV is text). */
export function isTextType(mediaType: string): boolean {
  return mediaType.startsWith("text/") || mediaType === MediaType.json || mediaType === "application/csv";
}

/**
 * Whether a client's declared type agrees with the sniffed one. Text types agree with each other
 * (a CSV sniffs as text when it has one line); everything else must match exactly, so a PDF
 * declared as an image is refused rather than passed on.
 */
export function declaredTypeAgrees(declared: string, sniffed: string): boolean {
  const normalized = declared.split(";")[0]?.trim().toLowerCase() ?? "";
  if (normalized === "" || normalized === MediaType.binary) return true;
  if (normalized === sniffed) return true;
  if (normalized === "image/jpg" && sniffed === MediaType.jpeg) return true;
  return isTextType(normalized) && isTextType(sniffed);
}
