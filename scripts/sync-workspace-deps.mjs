#!/usr/bin/env node
// Makes each workspace's package.json declare exactly the @insitu/* packages its TypeScript imports
// (apps/*, libs/*, services/*, test/), so turbo's task graph and cache follow the real imports: a missing one
// is added, one no longer imported is removed, nothing else in the manifest changes.
//   node scripts/sync-workspace-deps.mjs          rewrite the manifests, then `npm install --prefer-offline`
//                                                 so package-lock.json agrees (npm ci refuses a lock that does not)
//   node scripts/sync-workspace-deps.mjs --check  change nothing; exit 1 and name each difference
// test/architecture/boundaries.test.ts fails on an undeclared import, so the two cannot drift apart.
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const check = process.argv.includes("--check");
// Same grammar as the boundary test: from "…", import "…", import("…").
const IMPORT = /(?:\bfrom|\bimport)\s*\(?\s*["'](@insitu\/[a-z0-9-]+)(?:\/[^"']*)?["']/g;
const SKIP = new Set(["node_modules", "vendor", "runner", "corpus", "dist"]);

/** Every workspace directory, as listed in the root package.json (apps/*, libs/*, services/*, test). */
function workspaceDirs() {
  const { workspaces } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const dirs = [];
  for (const pattern of workspaces) {
    if (pattern.endsWith("/*")) {
      const parent = join(root, pattern.slice(0, -2));
      for (const entry of readdirSync(parent)) dirs.push(join(parent, entry));
    } else dirs.push(join(root, pattern));
  }
  return dirs.filter((dir) => {
    try {
      return statSync(join(dir, "package.json")).isFile();
    } catch {
      return false;
    }
  });
}

function importedPackages(dir) {
  const wanted = new Set();
  const walk = (path) => {
    for (const entry of readdirSync(path)) {
      if (SKIP.has(entry)) continue;
      const full = join(path, entry);
      if (statSync(full).isDirectory()) walk(full);
      else if (/\.(ts|mts|js|mjs)$/.test(full) && !full.endsWith(".d.ts"))
        for (const m of readFileSync(full, "utf8").matchAll(IMPORT)) wanted.add(m[1]);
    }
  };
  walk(dir);
  return wanted;
}

const dirs = workspaceDirs();
const versions = new Map(
  dirs.map((dir) => {
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    return [manifest.name, manifest.version];
  }),
);
let differences = 0;
for (const dir of dirs) {
  const path = join(dir, "package.json");
  const manifest = JSON.parse(readFileSync(path, "utf8"));
  const wanted = importedPackages(dir);
  wanted.delete(manifest.name);
  for (const name of wanted) if (!versions.has(name)) wanted.delete(name);
  const declared = { ...manifest.dependencies, ...manifest.devDependencies };
  const missing = [...wanted].filter((name) => !(name in declared)).sort();
  const unused = Object.keys(declared)
    .filter((name) => versions.has(name) && !wanted.has(name))
    .sort();
  if (missing.length === 0 && unused.length === 0) continue;
  differences += missing.length + unused.length;
  const change = [...missing.map((n) => `+ ${n}`), ...unused.map((n) => `- ${n}`)].join(", ");
  console.log(`${manifest.name}: ${change}`);
  if (check) continue;
  for (const group of ["dependencies", "devDependencies"]) {
    if (!manifest[group]) continue;
    for (const name of unused) delete manifest[group][name];
  }
  manifest.dependencies = { ...manifest.dependencies };
  for (const name of missing) manifest.dependencies[name] = versions.get(name);
  manifest.dependencies = Object.fromEntries(
    Object.entries(manifest.dependencies).sort(([a], [b]) => a.localeCompare(b)),
  );
  writeFileSync(path, `${JSON.stringify(manifest, null, 2)}\n`);
}
if (check && differences > 0) {
  console.error("workspace @insitu/* dependencies differ from the imports: run node scripts/sync-workspace-deps.mjs");
  process.exit(1);
}
