import { ToolRequestSchema } from "@insitu/contracts";
import type { CallLimits, Usage } from "@insitu/llm";
import type { Logger } from "@insitu/telemetry";
import { z } from "zod";
import { VerdictSchema } from "./judge.js";
import type { MachineDeps } from "./machine.js";

/** Where the Manager keeps its model calls' answers (the task-steps KV bucket in production). */
export interface CallRecordStore {
  get(taskId: string, step: string): Promise<unknown | undefined>;
  put(taskId: string, step: string, value: unknown): Promise<void>;
}

const UsageSchema = z
  .object({
    inputTokens: z.number().int().min(0),
    outputTokens: z.number().int().min(0),
    cachedTokens: z.number().int().min(0),
  })
  .passthrough();

const PlanCallSchema = z.object({
  plan: z.object({
    required_tool_names: z.array(z.string()),
    tool_usage_guidance: z.string(),
    tool_requests: z.array(ToolRequestSchema),
  }),
  usage: UsageSchema,
});
const JudgeCallSchema = z.object({ verdict: VerdictSchema, usage: UsageSchema });

type ModelCalls = Pick<MachineDeps, "plan" | "judge">;

/**
 * The plan and judge calls of one `manager.step` step, each made at most once however often the
 * step is delivered (docs/adr/0119; since ADR 0150 the calls run in that step, outside the
 * compare-and-set loop, so only a redelivery after a crash replays them). Applying runs inside a compare-and-set loop: a conflict
 * re-applies on the fresh state, and a crash before the commit redelivers the message. Both used
 * to ask the model again — a second paid call whose answer could differ. Here the n-th plan (or
 * judge) call of an application is answered from the n-th call already made for this message: from
 * memory within the process, from the store after a crash; a new answer is stored before it is
 * used. Its usage is charged by whichever application commits, so exactly once.
 *
 * A failed call stores nothing (its usage is charged before a redelivery, ADR 0060); a stored
 * answer that no longer parses is asked again.
 */
export class RecordedCalls {
  private readonly made = new Map<string, unknown>();
  private readonly counts = { plan: 0, judge: 0 };

  constructor(
    private readonly taskId: string,
    private readonly step: string,
    private readonly store: CallRecordStore | undefined,
    private readonly logger?: Logger,
  ) {}

  /** Call before each application: its calls are numbered from 1 again. */
  restart(): void {
    this.counts.plan = 0;
    this.counts.judge = 0;
  }

  /** `calls` with each plan and judge call answered once per position. */
  wrap(calls: ModelCalls): ModelCalls {
    return {
      plan: (input, limits) => this.once("plan", PlanCallSchema, () => calls.plan(input, limits)),
      judge: (input, limits) => this.once("judge", JudgeCallSchema, () => calls.judge(input, limits)),
    };
  }

  private async once<T extends { usage: Usage }>(
    kind: "plan" | "judge",
    schema: z.ZodType<unknown>,
    call: () => Promise<T>,
  ): Promise<T> {
    const key = `manager.${this.step}.${kind}-${++this.counts[kind]}`;
    const kept = this.made.get(key);
    if (kept !== undefined) return structuredClone(kept) as T;
    const stored = await this.read(key, schema);
    if (stored !== undefined) {
      this.logger?.info("model call already made for this step; using its answer", { key });
      this.made.set(key, stored);
      return structuredClone(stored) as T;
    }
    const answer = await call();
    this.made.set(key, structuredClone(answer));
    try {
      await this.store?.put(this.taskId, key, answer);
    } catch (error) {
      // The answer is good; only a crash before the commit would ask again.
      this.logger?.warn("could not store a model call's answer", { key, error });
    }
    return answer;
  }

  private async read(key: string, schema: z.ZodType<unknown>): Promise<unknown | undefined> {
    let value: unknown;
    try {
      value = await this.store?.get(this.taskId, key);
    } catch (error) {
      this.logger?.warn("could not read a stored model call; asking the model", { key, error });
      return undefined;
    }
    if (value === undefined) return undefined;
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      this.logger?.warn("a stored model call does not parse; asking the model", { key });
      return undefined;
    }
    return value;
  }
}

export type { CallLimits };
