/**
 * Builds the vetted library set tools may import, offline, into services/sandbox/vendor:
 * one self-contained ESM file per library (bundled with esbuild for the browser platform, so no
 * Node built-ins), an import map naming them, and a lock file with versions and sha256 digests.
 *
 *   npm run vendor -w @insitu/sandbox
 *
 * To add a library: add it (exact version) to services/sandbox/package.json devDependencies,
 * `flock /tmp/npm.lock npm install`, add an entry below, run this script, run the vendor test
 * (services/sandbox/src/vendor.int.test.ts), and commit vendor/. See docs/adr/0012-sandbox-vetted-libraries.md.
 */
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

interface Library {
  /** The specifier tools import. */
  specifier: string;
  /** npm package (pinned in package.json). */
  packageName: string;
  /** Module source bundled; re-exports what tools use. */
  entry: string;
  purpose: string;
}

const libraries: Library[] = [
  {
    specifier: "mathjs",
    packageName: "mathjs",
    entry: 'export * from "mathjs";',
    purpose: "expression maths, units, matrices, statistics",
  },
  {
    specifier: "papaparse",
    packageName: "papaparse",
    entry:
      'import Papa from "papaparse"; export default Papa; export const parse = Papa.parse; export const unparse = Papa.unparse;',
    purpose: "CSV parse and write",
  },
  {
    specifier: "dayjs",
    packageName: "dayjs",
    entry: [
      'import dayjs from "dayjs";',
      'import utc from "dayjs/plugin/utc.js";',
      'import timezone from "dayjs/plugin/timezone.js";',
      'import customParseFormat from "dayjs/plugin/customParseFormat.js";',
      'import relativeTime from "dayjs/plugin/relativeTime.js";',
      'import duration from "dayjs/plugin/duration.js";',
      "dayjs.extend(utc); dayjs.extend(timezone); dayjs.extend(customParseFormat); dayjs.extend(relativeTime); dayjs.extend(duration);",
      "export default dayjs;",
    ].join("\n"),
    purpose:
      "dates: parse, format, time zones, durations (plugins utc, timezone, customParseFormat, relativeTime, duration pre-loaded)",
  },
  {
    specifier: "html-to-text",
    packageName: "html-to-text",
    entry: 'export { convert, compile } from "html-to-text";',
    purpose: "HTML to plain text",
  },
  {
    specifier: "fast-xml-parser",
    packageName: "fast-xml-parser",
    entry: 'export { XMLParser, XMLBuilder, XMLValidator } from "fast-xml-parser";',
    purpose: "XML parse, build, validate",
  },
  {
    specifier: "xlsx",
    packageName: "xlsx",
    entry:
      'import * as XLSX from "xlsx"; export default XLSX; export const read = XLSX.read; export const utils = XLSX.utils; export const write = XLSX.write;',
    purpose: "spreadsheets (xlsx, xls, ods, csv) from bytes the tool fetched; no file system",
  },
  {
    specifier: "unpdf",
    packageName: "unpdf",
    entry: 'export { extractText, getDocumentProxy, getMeta } from "unpdf";',
    purpose: "PDF text and metadata from bytes the tool fetched",
  },
];

const here = dirname(fileURLToPath(import.meta.url));
const vendorDir = join(here, "..", "vendor");
const require = createRequire(import.meta.url);

const imports: Record<string, string> = {};
const lock: Record<
  string,
  { version: string; file: string; sha256: string; bytes: number; purpose: string }
> = {};
for (const library of libraries) {
  const file = `${library.specifier.replace(/[^a-z0-9-]/gi, "_")}.js`;
  const version = (
    JSON.parse(readFileSync(findPackageJson(library.packageName), "utf8")) as { version: string }
  ).version;
  await build({
    stdin: { contents: library.entry, resolveDir: here, loader: "js" },
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    legalComments: "inline",
    outfile: join(vendorDir, file),
    logLevel: "warning",
    define: { "process.env.NODE_ENV": '"production"' },
  });
  const bytes = readFileSync(join(vendorDir, file));
  imports[library.specifier] = `./${file}`;
  lock[library.specifier] = {
    version,
    file,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    bytes: bytes.length,
    purpose: library.purpose,
  };
  console.log(
    `${library.specifier.padEnd(16)} ${version.padEnd(10)} ${(bytes.length / 1024).toFixed(0).padStart(6)} KiB`,
  );
}
writeFileSync(join(vendorDir, "import-map.json"), `${JSON.stringify({ imports }, null, 2)}\n`);
writeFileSync(join(vendorDir, "vendor.lock.json"), `${JSON.stringify(lock, null, 2)}\n`);

function findPackageJson(name: string): string {
  // Some packages do not export ./package.json; walk up from the resolved entry instead.
  let dir = dirname(require.resolve(name));
  for (;;) {
    try {
      const candidate = join(dir, "package.json");
      const parsed = JSON.parse(readFileSync(candidate, "utf8")) as { name?: string };
      if (parsed.name === name) return candidate;
    } catch {
      // keep walking
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`package.json of ${name} not found`);
    dir = parent;
  }
}
