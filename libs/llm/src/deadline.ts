import { ErrorCategory, ErrorCode, InsituError } from "@insitu/errors";
import { usageOfError } from "./attempt-usage.js";
import type { GenerateRequest, LanguageModel, StreamPart } from "./types.js";

/**
 * Deadlines on every model call (ADR 0062). A request's `deadline` is the task's wall-time end
 * (epoch ms). {@link withCallDeadline} refuses a call already past it, and cancels one that runs
 * into it through a signal made for that call alone — the caller's long-lived signal (a
 * consumer's, a service's) is linked for the call and unlinked after it, so nothing accumulates
 * on it however many calls it serves. The retry layer also gets the deadline: it starts no
 * attempt and no wait past it.
 */

/** BUDGET_EXCEEDED for a call that reached its task's wall-time deadline. */
export function deadlineExceededError(request: Pick<GenerateRequest, "taskId" | "deadline">): InsituError {
  const deadline = request.deadline ?? Date.now();
  return new InsituError(
    `task ${request.taskId ?? "(none)"} exceeded its wall-time budget (deadline ${new Date(deadline).toISOString()})`,
    {
      code: ErrorCode.budgetExceeded,
      category: ErrorCategory.user,
      retryable: false,
      details: {
        ...(request.taskId ? { taskId: request.taskId } : {}),
        budget: "wall-time",
        deadline: new Date(deadline).toISOString(),
      },
    },
  );
}

/**
 * A signal for one call: aborted when the caller's signal aborts or the deadline passes (with
 * the deadline's BUDGET_EXCEEDED as reason). `release()` unlinks it from the caller's signal and
 * clears the timer; call it when the call is over.
 */
export function callSignal(request: Pick<GenerateRequest, "signal" | "deadline" | "taskId">): {
  signal: AbortSignal;
  release(): void;
} {
  const controller = new AbortController();
  const parent = request.signal;
  const onAbort = () => controller.abort(parent?.reason);
  if (parent?.aborted) controller.abort(parent.reason);
  else parent?.addEventListener("abort", onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  if (request.deadline !== undefined && !controller.signal.aborted) {
    const wait = request.deadline - Date.now();
    if (wait <= 0) controller.abort(deadlineExceededError(request));
    else {
      timer = setTimeout(() => controller.abort(deadlineExceededError(request)), wait);
      timer.unref();
    }
  }
  return {
    signal: controller.signal,
    release() {
      clearTimeout(timer);
      parent?.removeEventListener("abort", onAbort);
    },
  };
}

/**
 * Wraps a model so every call runs on its own signal bounded by the request's deadline; a call
 * cancelled by the deadline fails with BUDGET_EXCEEDED (never as a model failure).
 */
export function withCallDeadline(model: LanguageModel): LanguageModel {
  return {
    provider: model.provider,
    model: model.model,
    async generate(request) {
      if (request.deadline !== undefined && Date.now() >= request.deadline)
        throw deadlineExceededError(request);
      const call = callSignal(request);
      try {
        return await model.generate({ ...request, signal: call.signal });
      } catch (error) {
        throw deadlineReason(call.signal) ?? error;
      } finally {
        call.release();
      }
    },
    async *stream(request): AsyncIterable<StreamPart> {
      if (request.deadline !== undefined && Date.now() >= request.deadline)
        throw deadlineExceededError(request);
      const call = callSignal(request);
      try {
        for await (const part of model.stream({ ...request, signal: call.signal })) yield part;
      } catch (error) {
        throw deadlineReason(call.signal) ?? error;
      } finally {
        call.release();
      }
    },
  };
}

function deadlineReason(signal: AbortSignal): InsituError | undefined {
  const reason: unknown = signal.reason;
  return signal.aborted && reason instanceof InsituError && reason.code === ErrorCode.budgetExceeded
    ? reason
    : undefined;
}

/** Limits of one logical model call made of several requests (structured output with repairs). */
export interface CallLimits {
  /** The task's wall-time end (epoch ms). */
  deadline?: number;
  /** Tokens (input + output) the task may still spend. */
  maxTokens?: number;
  taskId?: string;
}

/**
 * A view of `model` that stamps every request with the task's deadline and refuses a request once
 * the requests made through it have spent `maxTokens` (usage from failed answers included): the
 * budget is checked before every model call, repairs too. Make one per logical call.
 */
export function withCallLimits(model: LanguageModel, limits: CallLimits): LanguageModel {
  let spent = 0;
  const before = (request: GenerateRequest): GenerateRequest => {
    const taskId = request.taskId ?? limits.taskId;
    if (limits.maxTokens !== undefined && spent >= limits.maxTokens) {
      throw new InsituError(
        `task ${taskId ?? "(none)"} exceeded its tokens budget (${spent} of ${limits.maxTokens} tokens left for this call spent)`,
        {
          code: ErrorCode.budgetExceeded,
          category: ErrorCategory.user,
          retryable: false,
          details: { ...(taskId ? { taskId } : {}), budget: "tokens", limit: limits.maxTokens, used: spent },
        },
      );
    }
    const deadline =
      limits.deadline === undefined
        ? request.deadline
        : Math.min(limits.deadline, request.deadline ?? Number.POSITIVE_INFINITY);
    const stamped: GenerateRequest = { ...request };
    if (deadline !== undefined) stamped.deadline = deadline;
    if (taskId !== undefined) stamped.taskId = taskId;
    // Refused here too, not only by withCallDeadline further down: a view used over a bare model
    // (the evolver's, a test's) must not start a request its task has no time left for.
    if (deadline !== undefined && Date.now() >= deadline) throw deadlineExceededError(stamped);
    return stamped;
  };
  const count = (usage: { inputTokens: number; outputTokens: number } | undefined) => {
    if (usage) spent += usage.inputTokens + usage.outputTokens;
  };
  return {
    provider: model.provider,
    model: model.model,
    async generate(request) {
      try {
        const result = await model.generate(before(request));
        count(result.usage);
        return result;
      } catch (error) {
        count(usageOfError(error));
        throw error;
      }
    },
    async *stream(request) {
      try {
        for await (const part of model.stream(before(request))) {
          if (part.type === "finish") count(part.result.usage);
          yield part;
        }
      } catch (error) {
        count(usageOfError(error));
        throw error;
      }
    },
  };
}
