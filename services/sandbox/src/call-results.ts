import type { ObjectBucket } from "@insitu/bus";
import type { Logger } from "@insitu/telemetry";
import { type ToolOutcome, ToolOutcomeSchema } from "@insitu/tool-kit";

/** Where outcomes of keyed calls are recorded (the `tool-call-results` Object Store in production). */
export interface CallResultStore {
  get(key: string): Promise<ToolOutcome | undefined>;
  put(key: string, outcome: ToolOutcome): Promise<void>;
}

/** Outcomes far above what a reply can carry are not worth refusing here: the reply limit applies. */
const MAX_RECORD_BYTES = 64 * 1024 * 1024;

/**
 * The Object Store as a {@link CallResultStore}. A record that is not bounded JSON or not a tool
 * outcome is quarantined (counted, listed by `insitu quarantine list`) and reads as absent: the
 * call runs again rather than the sandbox failing it.
 */
export function objectCallResultStore(bucket: ObjectBucket): CallResultStore {
  return {
    async get(key) {
      const value = await bucket.getJson(key, { maxBytes: MAX_RECORD_BYTES, maxDepth: 256 });
      if (value === undefined) return undefined;
      const parsed = ToolOutcomeSchema.safeParse(value);
      if (parsed.success) return parsed.data;
      await bucket.quarantine(key, `not a tool outcome: ${parsed.error.issues[0]?.message ?? "wrong shape"}`);
      return undefined;
    },
    async put(key, outcome) {
      await bucket.put(key, Buffer.from(JSON.stringify(outcome), "utf8"));
    },
  };
}

/**
 * Runs each keyed tool call at most once (docs/adr/0094). A key seen before gets the recorded
 * outcome; a key still running in this process joins that run; otherwise the call runs and its
 * outcome is recorded before it is returned — so a caller killed mid-call, whose step is
 * redelivered and makes the same call again, does not repeat the tool's side effects.
 *
 * Not covered: two replicas receiving the same key while the first run is still going (each runs
 * it), and a sandbox killed mid-run (nothing was recorded; the retry runs the tool again).
 */
export class CallOnce {
  private readonly running = new Map<string, Promise<ToolOutcome>>();

  constructor(
    private readonly store: CallResultStore,
    private readonly logger?: Logger,
  ) {}

  run(key: string | undefined, execute: () => Promise<ToolOutcome>): Promise<ToolOutcome> {
    if (key === undefined) return execute();
    const joined = this.running.get(key);
    if (joined) return joined;
    const run = this.once(key, execute);
    this.running.set(key, run);
    void run.then(
      () => this.running.delete(key),
      () => this.running.delete(key),
    );
    return run;
  }

  private async once(key: string, execute: () => Promise<ToolOutcome>): Promise<ToolOutcome> {
    let recorded: ToolOutcome | undefined;
    try {
      recorded = await this.store.get(key);
    } catch (error) {
      // JetStream trouble must not stop tool calls: the call runs unrecorded-checked (at least once).
      this.logger?.warn("could not read recorded tool-call results; running the call", { key, error });
    }
    if (recorded) {
      this.logger?.info("tool call already made; answering with its recorded outcome", { key });
      return recorded;
    }
    const outcome = await execute();
    try {
      await this.store.put(key, outcome);
    } catch (error) {
      // The tool has run: its outcome goes back all the same (failing now would only make the
      // caller run it again).
      this.logger?.warn("could not record a tool call's outcome", { key, error });
    }
    return outcome;
  }
}
