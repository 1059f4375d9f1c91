/**
 * Operator review of versions the approval policy holds back (ADR 0130).
 */
import {
  RegistryErrorCode,
  type RegistryReviewDecide,
  type RegistryReviewList,
  type VersionSummary,
} from "@insitu/contracts";
import { ErrorCategory, InsituError, notFound } from "@insitu/errors";
import { defaultApprovalPolicy, evaluateApproval } from "@insitu/tool-kit";
import { Keys, type ReviewDocument, type VersionDocument } from "../documents.js";
import {
  type RegistryState,
  type Request,
  type Response,
  MAX_ATTEMPTS,
  versionMeta,
  isConflict,
} from "./state.js";

/**
 * Opens a review when the approval policy does not admit every permission of a version:
 * `review` → pending, `deny` → rejected by `policy`. A version already reviewed keeps its
 * review: decisions hold for the same content whichever task rebuilds it.
 */
export async function openReview(
  s: RegistryState,
  document: VersionDocument,
  taskId: string | undefined,
): Promise<void> {
  if (s.view.reviews.has(document.hash)) return;
  const evaluation = evaluateApproval(s.options.approvalPolicy ?? defaultApprovalPolicy(), document.manifest);
  if (evaluation.decision === "auto") return;
  const at = s.now().toISOString();
  const review: ReviewDocument = {
    hash: document.hash,
    name: document.name,
    state: evaluation.decision === "deny" ? "rejected" : "pending",
    ...(taskId ? { requestedByTask: taskId } : {}),
    requestedAt: at,
    permissions: evaluation.permissions,
    decisions:
      evaluation.decision === "deny"
        ? [
            {
              decision: "deny",
              by: "policy",
              at,
              reason: `denied by the approval policy: ${evaluation.permissions
                .filter((item) => item.decision === "deny")
                .map((item) => `${item.permission} (rule ${item.rule})`)
                .join(", ")}`.slice(0, 2000),
            },
          ]
        : [],
  };
  try {
    const revision = await s.kv.create(Keys.review(document.hash), review);
    await s.view.applyOwn(Keys.review(document.hash), review, revision);
  } catch (error) {
    if (!isConflict(error)) throw error;
    // Another replica opened it first: read it so this one serves what it says.
    const stored = await s.kv.get<ReviewDocument>(Keys.review(document.hash));
    if (stored) await s.view.applyOwn(Keys.review(document.hash), stored.value, stored.revision);
  }
}

export async function reviewList(
  s: RegistryState,
  request: Request<typeof RegistryReviewList>,
): Promise<Response<typeof RegistryReviewList>> {
  await s.view.settled();
  const state = request.state ?? "pending";
  const reviews = [...s.view.reviews.values()]
    .filter((review) => review.state === state)
    .sort((left, right) =>
      left.requestedAt < right.requestedAt ? -1 : left.requestedAt > right.requestedAt ? 1 : 0,
    );
  const versions = reviews
    .slice(0, request.limit ?? 100)
    .map((review) => s.view.summary(review.hash))
    .filter((summary): summary is VersionSummary => summary !== undefined);
  return { total: reviews.length, versions };
}

/** Records an operator's decision (who, when, why) on a reviewed version. */
export async function reviewDecide(
  s: RegistryState,
  request: Request<typeof RegistryReviewDecide>,
): Promise<Response<typeof RegistryReviewDecide>> {
  const key = Keys.review(request.hash);
  for (let attempt = 0; ; attempt++) {
    const stored = await s.kv.get<ReviewDocument>(key);
    if (!stored) {
      if (!(await versionMeta(s, request.hash)))
        throw notFound(`tool version ${request.hash}`, { hash: request.hash });
      throw new InsituError(
        `version ${request.hash} was admitted by the policy; it has no review to decide`,
        {
          code: RegistryErrorCode.reviewConflict,
          category: ErrorCategory.user,
          details: { hash: request.hash },
        },
      );
    }
    if (stored.value.decisions[0]?.by === "policy") {
      // The operator's own rule denies it: only changing the policy can, not a review.
      throw new InsituError(
        `version ${request.hash} is denied by the approval policy; change the policy instead`,
        {
          code: RegistryErrorCode.reviewConflict,
          category: ErrorCategory.user,
          details: { hash: request.hash, reason: stored.value.decisions[0].reason },
        },
      );
    }
    const state = request.decision === "approve" ? "approved" : "rejected";
    if (stored.value.state === state) return s.view.summary(request.hash) as VersionSummary;
    if (stored.value.decisions.length >= 100) {
      throw new InsituError(`version ${request.hash} has had 100 decisions; no more are recorded`, {
        code: RegistryErrorCode.reviewConflict,
        category: ErrorCategory.user,
      });
    }
    const next: ReviewDocument = {
      ...stored.value,
      state,
      decisions: [
        ...stored.value.decisions,
        {
          decision: request.decision,
          by: request.by,
          at: s.now().toISOString(),
          reason: request.reason,
        },
      ],
    };
    try {
      const revision = await s.kv.update(key, next, stored.revision);
      await s.view.applyOwn(key, next, revision);
      s.options.logger.info("review decided", {
        hash: request.hash,
        name: next.name,
        decision: request.decision,
        by: request.by,
      });
      return s.view.summary(request.hash) as VersionSummary;
    } catch (error) {
      if (!isConflict(error) || attempt >= MAX_ATTEMPTS) throw error;
    }
  }
}
