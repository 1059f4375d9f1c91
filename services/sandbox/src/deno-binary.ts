import { accessSync, constants } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { InsituError } from "@insitu/errors";

const PLATFORM_PACKAGES: Record<string, string> = {
  "linux-x64": "@deno/linux-x64-glibc",
  "linux-arm64": "@deno/linux-arm64-glibc",
  "darwin-x64": "@deno/darwin-x64",
  "darwin-arm64": "@deno/darwin-arm64",
};

/**
 * The native Deno binary from the `deno` npm package's platform package. Never `npx deno` or the
 * package's Node wrapper: both add 50–200 ms per call (DESIGN.md, "Sandbox rules").
 */
export function resolveDenoBinary(override?: string): string {
  if (override) return checkExecutable(override);
  const packageName = PLATFORM_PACKAGES[`${process.platform}-${process.arch}`];
  if (!packageName) {
    throw new InsituError(`no Deno platform package for ${process.platform}-${process.arch}`, {
      code: "SANDBOX_UNAVAILABLE",
      details: { platform: process.platform, arch: process.arch },
    });
  }
  const require = createRequire(import.meta.url);
  let packageJson: string;
  try {
    packageJson = require.resolve(`${packageName}/package.json`);
  } catch (error) {
    throw new InsituError(`${packageName} is not installed (npm install deno)`, {
      code: "SANDBOX_UNAVAILABLE",
      cause: error,
    });
  }
  return checkExecutable(join(dirname(packageJson), process.platform === "win32" ? "deno.exe" : "deno"));
}

function checkExecutable(path: string): string {
  try {
    accessSync(path, constants.X_OK);
  } catch (error) {
    throw new InsituError(`Deno binary ${path} is not executable`, {
      code: "SANDBOX_UNAVAILABLE",
      cause: error,
    });
  }
  return path;
}
