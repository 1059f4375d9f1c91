import { readFileSync, statSync } from "node:fs";
import { ErrorCategory, ErrorCode, InsituError } from "@insitu/errors";

/**
 * Reads a JSON config file an operator wrote (models config, scenario file, …), size-capped. Every
 * failure is INVALID_CONFIG naming the file and what it is, so the message says what to fix.
 */
export function readJsonFile(path: string, what: string, maxBytes = 1024 * 1024): unknown {
  let text: string;
  try {
    if (statSync(path).size > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new InsituError(`cannot read ${what} ${path}: ${(error as Error).message}`, {
      code: ErrorCode.invalidConfig,
      category: ErrorCategory.user,
      cause: error,
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InsituError(`${what} ${path} is not valid JSON: ${(error as Error).message}`, {
      code: ErrorCode.invalidConfig,
      category: ErrorCategory.user,
    });
  }
}
