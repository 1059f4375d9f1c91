// Contracts for tools by content address (docs/adr/0160): a caller binds a tool without its code,
// and the sandbox fetches the code once per content hash. Served by `services/registry`.
import { z } from "zod";
import { defineEndpoint } from "./define.js";
import { ContentHash, ToolName } from "./envelope.js";
import {
  MAX_REGISTRY_CODE_CHARS,
  RegistryGet,
  StoredManifestSchema,
  VersionReviewSchema,
  VersionStatusSchema,
} from "./registry.js";

/** What a caller needs to run a registered version: everything but its code and tests. */
export const ToolBindingSchema = z
  .object({
    /** The version's content hash (`computeToolHash`). */
    version: ContentHash,
    name: ToolName,
    status: VersionStatusSchema,
    manifest: StoredManifestSchema,
    /** `computeCodeHash(code)`: what the sandbox asks `registry.code.get` for. */
    codeHash: ContentHash,
    /** Its operator review, when the approval policy asked for one (decides granted secrets). */
    review: VersionReviewSchema.optional(),
  })
  .strict();
export type ToolBinding = z.infer<typeof ToolBindingSchema>;

export const RegistryBindingGet = defineEndpoint({
  service: "registry",
  name: "binding-get",
  subject: "registry.binding.get",
  version: 1,
  description:
    "A version's binding without its code: manifest, code hash and review state. Resolves a version as `registry.get` does (by hash, by name, by ordinal).",
  request: RegistryGet.request.schema,
  response: ToolBindingSchema,
});

export const RegistryCodeGet = defineEndpoint({
  service: "registry",
  name: "code-get",
  subject: "registry.code.get",
  version: 1,
  description:
    "The code and admitted manifest of a version, only when its code hashes to `codeHash` (else `ErrorCode.toolCodeHashMismatch`, TOOL_CODE_HASH_MISMATCH): what the sandbox fetches once per version and enforces.",
  request: z.object({ version: ContentHash, codeHash: ContentHash }).strict(),
  response: z
    .object({
      code: z.string().min(1).max(MAX_REGISTRY_CODE_CHARS),
      /** The manifest the registry admitted for this version: the one the sandbox enforces. */
      manifest: StoredManifestSchema,
    })
    .strict(),
});
