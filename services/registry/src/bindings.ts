// Tools by content address (docs/adr/0160): a binding names a version's code by its hash, and the
// code is served only against that hash.
import type {
  RegistryBindingGet,
  RegistryCodeGet,
  Payload as Request,
  Reply as Response,
} from "@insitu/contracts";
import { ErrorCategory, ErrorCode, InsituError, notFound } from "@insitu/errors";
import { computeCodeHash } from "@insitu/tool-kit";
import type { Registry } from "./registry.js";

/** A version's manifest, code hash and review, resolved as `registry.get` resolves it. */
export async function bindingGet(
  registry: Registry,
  request: Request<typeof RegistryBindingGet>,
): Promise<Response<typeof RegistryBindingGet>> {
  const record = await registry.get(request);
  return {
    version: record.hash,
    name: record.name,
    status: record.status,
    manifest: record.manifest,
    codeHash: computeCodeHash(record.code),
    ...(record.review ? { review: record.review } : {}),
  };
}

/** A version's code, only when it hashes to what the caller named. */
export async function codeGet(
  registry: Registry,
  request: Request<typeof RegistryCodeGet>,
): Promise<Response<typeof RegistryCodeGet>> {
  const record = await registry.record(request.version);
  if (!record) throw notFound(`tool version ${request.version}`, { version: request.version });
  const actual = computeCodeHash(record.code);
  if (actual !== request.codeHash) {
    throw new InsituError(`the code of version ${request.version} does not hash to ${request.codeHash}`, {
      code: ErrorCode.toolCodeHashMismatch,
      category: ErrorCategory.user,
      details: { version: request.version, expected: request.codeHash, actual },
    });
  }
  return { code: record.code, manifest: record.manifest };
}
