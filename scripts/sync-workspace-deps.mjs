#!/usr/bin/env node
// Declares in each workspace's package.json every @insitu/* package its src imports (the boundary
// test in test/architecture fails on an undeclared one). Run `npm install` after it so
// package-lock.json agrees (npm ci refuses a lock that does not).
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const IMPORT = /(?:from|import)\s*\(?\s*"(@insitu\/[a-z-]+)(?:\/[a-z-]+)?"/g;
const names = new Map();
const dirs = [];
for (const group of ["libs", "services"]) {
  for (const entry of readdirSync(join(root, group))) {
    const dir = join(root, group, entry);
    try {
      const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
      names.set(manifest.name, manifest.version);
      dirs.push(dir);
    } catch {}
  }
}
for (const dir of dirs) {
  const path = join(dir, "package.json");
  const manifest = JSON.parse(readFileSync(path, "utf8"));
  const wanted = new Set();
  const walk = (p) => {
    for (const entry of readdirSync(p)) {
      if (["node_modules", "vendor", "runner"].includes(entry)) continue;
      const full = join(p, entry);
      if (statSync(full).isDirectory()) walk(full);
      else if (full.endsWith(".ts")) for (const m of readFileSync(full, "utf8").matchAll(IMPORT)) wanted.add(m[1]);
    }
  };
  walk(join(dir, "src"));
  wanted.delete(manifest.name);
  const declared = { ...manifest.dependencies, ...manifest.devDependencies };
  const missing = [...wanted].filter((name) => names.has(name) && !(name in declared)).sort();
  if (missing.length === 0) continue;
  manifest.dependencies = { ...manifest.dependencies };
  for (const name of missing) manifest.dependencies[name] = names.get(name);
  manifest.dependencies = Object.fromEntries(Object.entries(manifest.dependencies).sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(path, `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`${manifest.name}: + ${missing.join(", ")}`);
}
