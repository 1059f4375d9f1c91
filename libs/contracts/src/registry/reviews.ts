// Operator review of versions the approval policy holds back (docs/adr/0130).
// Part of the registry domain's contracts (see ./records.ts); served by `services/registry`.
import { z } from "zod";
import { defineEndpoint } from "../define.js";
import { ContentHash } from "../envelope.js";
import { VersionSummarySchema } from "./records.js";

export const RegistryReviewList = defineEndpoint({
  service: "registry",
  name: "review-list",
  subject: "registry.review.list",
  version: 1,
  description:
    "Versions the operator's approval policy sent to review: pending ones by default (oldest first), or those approved or rejected, each with its permissions and what the policy said of them.",
  request: z
    .object({
      /** Default `pending`. */
      state: z.enum(["pending", "approved", "rejected"]).optional(),
      /** Default 100. */
      limit: z.number().int().min(1).max(1000).optional(),
    })
    .strict(),
  response: z.object({ total: z.number().int().min(0), versions: z.array(VersionSummarySchema) }).strict(),
});

export const RegistryReviewDecide = defineEndpoint({
  service: "registry",
  name: "review-decide",
  subject: "registry.review.decide",
  version: 1,
  description:
    "An operator's decision on a version waiting for review: `approve` admits it (its task's pool serves it; reviewed secrets are granted to this version), `deny` rejects it. Recorded with who, when and why in the version's history. Deciding the same way twice is a no-op; reversing a decision is allowed and recorded.",
  request: z
    .object({
      hash: ContentHash,
      decision: z.enum(["approve", "deny"]),
      by: z.string().min(1).max(200),
      reason: z.string().min(1).max(2000),
    })
    .strict(),
  response: VersionSummarySchema,
});
