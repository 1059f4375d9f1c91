/**
 * The largest production files and the longest functions of the tree — the figures issue 12
 * asks to see before and after a split. Tests, generated files and `testing` doors are left out.
 *
 *   npx tsx scripts/code-size.ts [--most 15]
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import ts from "typescript";

const { values } = parseArgs({ options: { most: { type: "string", default: "15" } } });
const most = Number(values.most);

const files = execFileSync("git", ["ls-files", "libs", "services", "apps"], { encoding: "utf8" })
  .split("\n")
  .filter((file) => /\.ts$/.test(file) && !/\.test\.ts$|\/testing\.ts$|\.d\.ts$|\/generated\//.test(file));

const fileRows: { file: string; lines: number }[] = [];
const functionRows: { where: string; name: string; lines: number }[] = [];
for (const file of files) {
  const text = readFileSync(file, "utf8");
  fileRows.push({ file, lines: text.split("\n").length - (text.endsWith("\n") ? 1 : 0) });
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line + 1;
      functionRows.push({ where: `${file}:${start}`, name: nameOf(node), lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}

function nameOf(node: ts.Node): string {
  const named = node as ts.Node & { name?: ts.Node };
  if (named.name && ts.isIdentifier(named.name)) return named.name.text;
  if (ts.isConstructorDeclaration(node)) return "constructor";
  const parent = node.parent;
  if (parent && ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) return parent.name.text;
  if (parent && ts.isPropertyAssignment(parent) && ts.isIdentifier(parent.name)) return parent.name.text;
  return "(anonymous)";
}

fileRows.sort((left, right) => right.lines - left.lines);
functionRows.sort((left, right) => right.lines - left.lines);
console.log(`largest production files (of ${files.length}):`);
for (const row of fileRows.slice(0, most)) console.log(`${String(row.lines).padStart(6)}  ${row.file}`);
console.log("\nlongest functions (whole functions; nested ones counted again on their own):");
for (const row of functionRows.slice(0, most)) {
  console.log(`${String(row.lines).padStart(6)}  ${row.name}  ${row.where}`);
}
