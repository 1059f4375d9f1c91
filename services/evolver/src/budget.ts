import { ErrorCategory, ErrorCode, InsituError } from "@insitu/errors";
import {
  type GenerateRequest,
  type LanguageModel,
  LlmErrorCode,
  type Usage,
  addUsageTo,
  emptyUsage,
  llmError,
  usageOfError,
} from "@insitu/llm";

/**
 * The evolver's model calls have no task to charge, so a barrier is their budget (ADR 0091): the
 * requests made through {@link BarrierBudget.model} may spend `maxTokens` (input + output, failed
 * answers included) and each runs at most `callTimeoutMs`, retries included. Once the tokens are
 * spent every further request is refused with BUDGET_EXCEEDED before it is sent; the barrier then
 * merges nothing more and admits what it was offered as it is.
 */
export interface BarrierBudgetOptions {
  /** Tokens (input + output) one barrier's model calls may spend. */
  maxTokens: number;
  /** Wall time of one model call, retries included (ms). */
  callTimeoutMs: number;
  now?: () => number;
}

export class BarrierBudget {
  /** Everything the barrier's requests were billed, refused and failed answers included. */
  readonly usage: Usage = emptyUsage();
  private refused = false;
  private readonly now: () => number;

  constructor(private readonly options: BarrierBudgetOptions) {
    this.now = options.now ?? Date.now;
  }

  get maxTokens(): number {
    return this.options.maxTokens;
  }

  get spent(): number {
    return this.usage.inputTokens + this.usage.outputTokens;
  }

  /** True once the budget is spent (a request was, or would be, refused). */
  get exhausted(): boolean {
    return this.refused || this.spent >= this.options.maxTokens;
  }

  /** BUDGET_EXCEEDED for a request the barrier has no tokens left for. */
  exceededError(barrierId: string): InsituError {
    return new InsituError(
      `barrier ${barrierId} spent its model budget (${this.spent} of ${this.options.maxTokens} tokens)`,
      {
        code: ErrorCode.budgetExceeded,
        category: ErrorCategory.user,
        retryable: false,
        details: { barrierId, budget: "tokens", limit: this.options.maxTokens, used: this.spent },
      },
    );
  }

  /** `model` bounded by this budget: refused once spent, each call cut at `callTimeoutMs`. */
  model(model: LanguageModel, barrierId: string): LanguageModel {
    const before = (request: GenerateRequest): GenerateRequest => {
      if (this.exhausted) {
        this.refused = true;
        throw this.exceededError(barrierId);
      }
      const callEnd = this.now() + this.options.callTimeoutMs;
      return { ...request, deadline: Math.min(callEnd, request.deadline ?? Number.POSITIVE_INFINITY) };
    };
    const timedOut = (error: unknown): unknown => {
      const typed = error instanceof InsituError ? error : undefined;
      // The deadline above is the call's own timeout, not a task's wall time: say so.
      if (typed?.code !== ErrorCode.budgetExceeded || typed.details.budget !== "wall-time") return error;
      return llmError(
        LlmErrorCode.timeout,
        `the evolver's model call took longer than EVOLVER_CALL_TIMEOUT_MS (${this.options.callTimeoutMs} ms)`,
        { details: { ...typed.details, barrierId, timeoutMs: this.options.callTimeoutMs }, cause: typed },
      );
    };
    const count = (usage: Usage | undefined) => addUsageTo(this.usage, usage);
    return {
      provider: model.provider,
      model: model.model,
      generate: async (request) => {
        const bounded = before(request);
        try {
          const result = await model.generate(bounded);
          count(result.usage);
          return result;
        } catch (error) {
          count(usageOfError(error));
          throw timedOut(error);
        }
      },
      async *stream(request) {
        const bounded = before(request);
        try {
          for await (const part of model.stream(bounded)) {
            if (part.type === "finish") count(part.result.usage);
            yield part;
          }
        } catch (error) {
          count(usageOfError(error));
          throw timedOut(error);
        }
      },
    };
  }
}
