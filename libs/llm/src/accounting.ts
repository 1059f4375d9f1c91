import { ErrorCategory, ErrorCode, InsituError } from "@insitu/errors";
import { MetricName } from "@insitu/telemetry";
import { Counter, Histogram, type Registry } from "prom-client";
import { DEFAULT_PRICES, type ModelPrice } from "./prices.js";
import { addUsageTo, usageOfError } from "./attempt-usage.js";
import {
  type EmbeddingModel,
  type GenerateRequest,
  type GenerateResult,
  type LanguageModel,
  type StreamPart,
  type Usage,
  emptyUsage,
  estimateEmbeddingTokens,
} from "./types.js";

/**
 * Token and cost accounting for every model call, per role and per task, with per-task budgets
 * checked before each call and Prometheus metrics labelled by provider, model and role.
 */

/** Cost in USD of one call's usage at `price` (USD per million tokens). */
export function costOf(usage: Usage, price: ModelPrice | undefined): number {
  if (!price) return 0;
  const cached = Math.min(usage.cachedTokens, usage.inputTokens);
  const uncached = usage.inputTokens - cached;
  return (
    (uncached * price.input +
      cached * (price.cachedInput ?? price.input) +
      usage.outputTokens * price.output) /
    1e6
  );
}

/** One finished (or failed) model call. */
export interface CallRecord {
  provider: string;
  model: string;
  role: string;
  taskId?: string;
  usage: Usage;
  costUsd: number;
  latencyMs: number;
  /** Error code when the call failed. */
  errorCode?: string;
  at: string;
}

export interface UsageTotals {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  costUsd: number;
}

function emptyTotals(): UsageTotals {
  return { calls: 0, inputTokens: 0, outputTokens: 0, cachedTokens: 0, costUsd: 0 };
}

function addTo(totals: UsageTotals, record: CallRecord): void {
  totals.calls += 1;
  totals.inputTokens += record.usage.inputTokens;
  totals.outputTokens += record.usage.outputTokens;
  totals.cachedTokens += record.usage.cachedTokens;
  totals.costUsd += record.costUsd;
}

/** Limits for one task; any may be absent. Tokens count input + output. */
export interface TaskBudget {
  maxTokens?: number;
  maxCostUsd?: number;
  maxWallTimeMs?: number;
}

/** Which budget ran out. */
export const BudgetKind = { tokens: "tokens", cost: "cost", wallTime: "wall-time" } as const;
export type BudgetKind = (typeof BudgetKind)[keyof typeof BudgetKind];

/** The error a call raises once its task is over budget: code BUDGET_EXCEEDED, category user. */
export function budgetExceededError(
  taskId: string,
  budget: BudgetKind,
  limit: number,
  used: number,
): InsituError {
  const unit = budget === "tokens" ? "tokens" : budget === "cost" ? "USD" : "ms";
  return new InsituError(
    `task ${taskId} exceeded its ${budget} budget (${round(used)} of ${round(limit)} ${unit})`,
    {
      code: ErrorCode.budgetExceeded,
      category: ErrorCategory.user,
      retryable: false,
      details: { taskId, budget, limit, used: round(used), unit },
    },
  );
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

interface TaskState {
  budget: TaskBudget;
  startedAt: number;
  totals: UsageTotals;
}

/** Metric instruments shared by all accountants on one registry. */
class LlmMetrics {
  readonly calls: Counter<"provider" | "model" | "role" | "outcome">;
  readonly tokens: Counter<"provider" | "model" | "role" | "kind">;
  readonly cost: Counter<"provider" | "model" | "role">;
  readonly latency: Histogram<"provider" | "model" | "role">;
  readonly errors: Counter<"provider" | "model" | "role" | "code">;
  readonly budgetExceeded: Counter<"role" | "budget">;
  readonly retries: Counter<"provider" | "model" | "role" | "reason">;

  constructor(registry: Registry) {
    const existing = <T>(name: string) => registry.getSingleMetric(name) as T | undefined;
    this.calls =
      existing(MetricName.llmCallsTotal) ??
      new Counter({
        name: MetricName.llmCallsTotal,
        help: "Model calls by outcome (ok | error).",
        labelNames: ["provider", "model", "role", "outcome"],
        registers: [registry],
      });
    this.tokens =
      existing(MetricName.llmTokensTotal) ??
      new Counter({
        name: MetricName.llmTokensTotal,
        help: "Tokens by kind: input (cached included), output (thinking included), cached, reasoning.",
        labelNames: ["provider", "model", "role", "kind"],
        registers: [registry],
      });
    this.cost =
      existing(MetricName.llmCostUsdTotal) ??
      new Counter({
        name: MetricName.llmCostUsdTotal,
        help: "Estimated model cost in USD at the configured prices.",
        labelNames: ["provider", "model", "role"],
        registers: [registry],
      });
    this.latency =
      existing(MetricName.llmLatencySeconds) ??
      new Histogram({
        name: MetricName.llmLatencySeconds,
        help: "Wall time of a model call, retries included.",
        labelNames: ["provider", "model", "role"],
        buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
        registers: [registry],
      });
    this.errors =
      existing(MetricName.llmErrorsTotal) ??
      new Counter({
        name: MetricName.llmErrorsTotal,
        help: "Failed model calls by error code.",
        labelNames: ["provider", "model", "role", "code"],
        registers: [registry],
      });
    this.budgetExceeded =
      existing(MetricName.llmBudgetExceededTotal) ??
      new Counter({
        name: MetricName.llmBudgetExceededTotal,
        help: "Model calls refused because their task was over budget, by budget kind.",
        labelNames: ["role", "budget"],
        registers: [registry],
      });
    this.retries =
      existing(MetricName.llmRetriesTotal) ??
      new Counter({
        name: MetricName.llmRetriesTotal,
        help: "Provider requests retried (or held back by a shared rate-limit cooldown), by reason.",
        labelNames: ["provider", "model", "role", "reason"],
        registers: [registry],
      });
  }
}

const metricsByRegistry = new WeakMap<Registry, LlmMetrics>();

export interface AccountantOptions {
  /** Metrics are registered here when given. */
  registry?: Registry;
  /** Prices by model id (merged over {@link DEFAULT_PRICES}). */
  prices?: Record<string, ModelPrice>;
  /** Clock for wall-time budgets (tests inject one). */
  now?: () => number;
  /** Called after every call with its record. */
  onCall?: (record: CallRecord) => void;
  /** Records kept for {@link Accountant.records}; default 10 000 (oldest dropped). */
  maxRecords?: number;
  /**
   * Keep totals for tasks never started with {@link Accountant.startTask}. Default true; a
   * long-running service that only wants metrics sets false (the task's record holds its usage).
   */
  trackUnstartedTasks?: boolean;
}

/**
 * Counts tokens and cost of every call made through the models it wraps, per role and per task,
 * and enforces per-task budgets. One accountant per process; tasks spanning several services
 * need each service to report its usage (see `startTask` / `addUsage`).
 */
export class Accountant {
  private readonly prices: Record<string, ModelPrice>;
  private readonly now: () => number;
  private readonly metrics: LlmMetrics | undefined;
  private readonly tasks = new Map<string, TaskState>();
  private readonly roles = new Map<string, UsageTotals>();
  private readonly kept: CallRecord[] = [];

  constructor(private readonly options: AccountantOptions = {}) {
    this.prices = { ...DEFAULT_PRICES, ...options.prices };
    this.now = options.now ?? Date.now;
    if (options.registry) {
      let metrics = metricsByRegistry.get(options.registry);
      if (!metrics) {
        metrics = new LlmMetrics(options.registry);
        metricsByRegistry.set(options.registry, metrics);
      }
      this.metrics = metrics;
    }
  }

  /** Starts (or re-arms) a task's budget; wall time counts from now unless `startedAt` is given. */
  startTask(taskId: string, budget: TaskBudget = {}, startedAt = this.now()): void {
    const existing = this.tasks.get(taskId);
    this.tasks.set(taskId, { budget, startedAt, totals: existing?.totals ?? emptyTotals() });
  }

  /** A retry callback counting `insitu_llm_retries_total` for one role's model. */
  retryObserver(labels: { provider: string; model: string; role: string }) {
    return (info: { reason: string }) => {
      const reason = info.reason.startsWith("status ")
        ? info.reason
        : info.reason === "shared cooldown"
          ? "cooldown"
          : info.reason.toLowerCase();
      this.metrics?.retries.inc({ ...labels, reason: reason.slice(0, 40) });
    };
  }

  /** Forgets a finished task and returns its totals. */
  endTask(taskId: string): UsageTotals | undefined {
    const state = this.tasks.get(taskId);
    this.tasks.delete(taskId);
    return state?.totals;
  }

  taskUsage(taskId: string): UsageTotals {
    return { ...(this.tasks.get(taskId)?.totals ?? emptyTotals()) };
  }

  roleUsage(role: string): UsageTotals {
    return { ...(this.roles.get(role) ?? emptyTotals()) };
  }

  /** The most recent call records (bounded). */
  records(): readonly CallRecord[] {
    return this.kept;
  }

  /** Throws BUDGET_EXCEEDED if the task has used up any budget. */
  checkBudget(taskId: string, role = "unknown"): void {
    const state = this.tasks.get(taskId);
    if (!state) return;
    const { budget, totals } = state;
    const tokens = totals.inputTokens + totals.outputTokens;
    let error: InsituError | undefined;
    if (budget.maxTokens !== undefined && tokens >= budget.maxTokens) {
      error = budgetExceededError(taskId, "tokens", budget.maxTokens, tokens);
    } else if (budget.maxCostUsd !== undefined && totals.costUsd >= budget.maxCostUsd) {
      error = budgetExceededError(taskId, "cost", budget.maxCostUsd, totals.costUsd);
    } else if (budget.maxWallTimeMs !== undefined && this.now() - state.startedAt >= budget.maxWallTimeMs) {
      error = budgetExceededError(taskId, "wall-time", budget.maxWallTimeMs, this.now() - state.startedAt);
    }
    if (error) {
      this.metrics?.budgetExceeded.inc({ role, budget: String(error.details.budget) });
      throw error;
    }
  }

  /** Adds usage reported from elsewhere (another service's calls for the same task). */
  addUsage(taskId: string, usage: Usage, costUsd: number): void {
    const state = this.tasks.get(taskId);
    if (!state) return;
    addTo(state.totals, {
      provider: "external",
      model: "external",
      role: "external",
      usage,
      costUsd,
      latencyMs: 0,
      at: new Date(this.now()).toISOString(),
    });
  }

  priceFor(model: string): ModelPrice | undefined {
    return this.prices[model] ?? this.prices[model.replace(/^models\//, "")];
  }

  /**
   * Wraps a model: budgets checked before each call, usage and cost counted after. A call of a
   * task with a wall-time budget is also cancelled when that budget runs out mid-call, and then
   * fails with BUDGET_EXCEEDED too.
   */
  wrap(model: LanguageModel, labels: { role: string; prices?: ModelPrice }): LanguageModel {
    const price = labels.prices ?? this.priceFor(model.model);
    const finish = (request: GenerateRequest, started: number, result?: GenerateResult, error?: unknown) =>
      this.record(model, labels.role, price, request.taskId, started, result?.usage, error);
    return {
      provider: model.provider,
      model: model.model,
      generate: async (request) => {
        if (request.taskId) this.checkBudget(request.taskId, labels.role);
        const deadline = this.wallTimeDeadline(request, labels.role);
        const started = performance.now();
        try {
          const result = await model.generate(deadline.request);
          finish(request, started, result);
          return result;
        } catch (caught) {
          const error = deadline.error() ?? caught;
          finish(request, started, undefined, error);
          throw error;
        } finally {
          deadline.clear();
        }
      },
      stream: (request) => this.wrapStream(model, request, labels.role, finish),
    };
  }

  /** Arms a cancellation for the rest of the task's wall-time budget, if it has one. */
  private wallTimeDeadline(
    request: GenerateRequest,
    role: string,
  ): { request: GenerateRequest; error(): InsituError | undefined; clear(): void } {
    const state = request.taskId ? this.tasks.get(request.taskId) : undefined;
    const limit = state?.budget.maxWallTimeMs;
    if (!state || limit === undefined || !request.taskId) {
      return { request, error: () => undefined, clear: () => undefined };
    }
    const taskId = request.taskId;
    const remaining = Math.max(0, limit - (this.now() - state.startedAt));
    const controller = new AbortController();
    let exceeded: InsituError | undefined;
    const timer = setTimeout(() => {
      exceeded = budgetExceededError(taskId, "wall-time", limit, this.now() - state.startedAt);
      this.metrics?.budgetExceeded.inc({ role, budget: "wall-time" });
      controller.abort(exceeded);
    }, remaining);
    timer.unref();
    const signal = request.signal ? AbortSignal.any([request.signal, controller.signal]) : controller.signal;
    return { request: { ...request, signal }, error: () => exceeded, clear: () => clearTimeout(timer) };
  }

  private async *wrapStream(
    model: LanguageModel,
    request: GenerateRequest,
    role: string,
    finish: (request: GenerateRequest, started: number, result?: GenerateResult, error?: unknown) => void,
  ): AsyncIterable<StreamPart> {
    if (request.taskId) this.checkBudget(request.taskId, role);
    const deadline = this.wallTimeDeadline(request, role);
    const started = performance.now();
    let done = false;
    try {
      for await (const part of model.stream(deadline.request)) {
        if (part.type === "finish") {
          finish(request, started, part.result);
          done = true;
        }
        yield part;
      }
    } catch (caught) {
      const error = deadline.error() ?? caught;
      if (!done) finish(request, started, undefined, error);
      throw error;
    } finally {
      deadline.clear();
    }
  }

  /**
   * Wraps an embedding model: each `embed` is one call record (role, tokens, cost, latency,
   * errors) — the registry's embeddings show in insitu_llm_* like every generation (issue 18).
   * Tokens are what the provider reported through `onUsage`, or estimated at 4 characters a
   * token ({@link estimateEmbeddingTokens}) when it reported nothing.
   */
  wrapEmbedding(model: EmbeddingModel, labels: { role: string; prices?: ModelPrice }): EmbeddingModel {
    const price = labels.prices ?? this.priceFor(model.model);
    return {
      provider: model.provider,
      model: model.model,
      dimensions: model.dimensions,
      embed: async (texts, options = {}) => {
        if (options.taskId) this.checkBudget(options.taskId, labels.role);
        const started = performance.now();
        let reported: Usage | undefined;
        const onUsage = (usage: Usage) => {
          reported = addUsageTo(reported ?? emptyUsage(), usage);
          options.onUsage?.(usage);
        };
        const served = (): Usage =>
          reported ?? { inputTokens: estimateEmbeddingTokens(texts), outputTokens: 0, cachedTokens: 0 };
        try {
          const vectors = await model.embed(texts, { ...options, onUsage });
          this.record(model, labels.role, price, options.taskId, started, served(), undefined);
          return vectors;
        } catch (error) {
          // A failed batch bills only what was reported before it failed.
          this.record(model, labels.role, price, options.taskId, started, reported ?? emptyUsage(), error);
          throw error;
        }
      },
    };
  }

  private record(
    model: { provider: string; model: string },
    role: string,
    price: ModelPrice | undefined,
    taskId: string | undefined,
    started: number,
    served: Usage | undefined,
    error: unknown,
  ): void {
    // A failed call still bills what the provider served (safety stops, empty or malformed answers).
    const usage = served ?? usageOfError(error) ?? { inputTokens: 0, outputTokens: 0, cachedTokens: 0 };
    const record: CallRecord = {
      provider: model.provider,
      model: model.model,
      role,
      usage,
      costUsd: costOf(usage, price),
      latencyMs: performance.now() - started,
      at: new Date(this.now()).toISOString(),
    };
    if (taskId) record.taskId = taskId;
    if (error !== undefined) record.errorCode = error instanceof InsituError ? error.code : "INTERNAL";

    let roleTotals = this.roles.get(role);
    if (!roleTotals) {
      roleTotals = emptyTotals();
      this.roles.set(role, roleTotals);
    }
    addTo(roleTotals, record);
    if (taskId) {
      let state = this.tasks.get(taskId);
      if (!state && this.options.trackUnstartedTasks !== false) {
        state = { budget: {}, startedAt: this.now(), totals: emptyTotals() };
        this.tasks.set(taskId, state);
      }
      if (state) addTo(state.totals, record);
    }
    this.kept.push(record);
    if (this.kept.length > (this.options.maxRecords ?? 10_000)) this.kept.shift();

    const metrics = this.metrics;
    if (metrics) {
      const labels = { provider: model.provider, model: model.model, role };
      metrics.calls.inc({ ...labels, outcome: record.errorCode ? "error" : "ok" });
      metrics.latency.observe(labels, record.latencyMs / 1000);
      if (record.errorCode) metrics.errors.inc({ ...labels, code: record.errorCode });
      metrics.tokens.inc({ ...labels, kind: "input" }, usage.inputTokens);
      metrics.tokens.inc({ ...labels, kind: "output" }, usage.outputTokens);
      metrics.tokens.inc({ ...labels, kind: "cached" }, usage.cachedTokens);
      if (usage.reasoningTokens) metrics.tokens.inc({ ...labels, kind: "reasoning" }, usage.reasoningTokens);
      metrics.cost.inc(labels, record.costUsd);
    }
    this.options.onCall?.(record);
  }
}
