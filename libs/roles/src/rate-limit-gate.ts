import type { Bus, Subscription } from "@insitu/bus";
import { MemoryRateLimitGate, type RateLimitGate } from "@insitu/llm";

/** KV bucket holding provider cooldowns (`{ until: epoch ms }` by `provider/model`). */
export const LLM_COOLDOWNS_BUCKET = "llm-cooldowns";

/** NATS KV keys allow `-/_=.` and alphanumerics only. */
function kvKey(key: string): string {
  return key.replace(/[^-/_=.a-zA-Z0-9]/g, "_");
}

/**
 * Rate-limit cooldowns shared by every replica of every role through a KV bucket (ADR 0061):
 * a 429 seen by one replica is written there, every replica watches the bucket into a local map,
 * so the next request anywhere waits out the provider's Retry-After without a bus round trip.
 * When the bus write fails the cooldown still holds in this process.
 */
export async function busRateLimitGate(bus: Bus): Promise<RateLimitGate & { stop(): Promise<void> }> {
  const local = new MemoryRateLimitGate();
  const kv = await bus.kv(LLM_COOLDOWNS_BUCKET);
  const read = (value: unknown) =>
    value && typeof value === "object" && typeof (value as { until?: unknown }).until === "number"
      ? (value as { until: number }).until
      : undefined;
  const subscription: Subscription = await kv.watch((key, value) => {
    const until = read(value);
    if (until !== undefined) local.coolDown(key, until);
  });
  for (const key of await kv.keys()) {
    const until = read((await kv.get(key))?.value);
    if (until !== undefined && until > Date.now()) local.coolDown(key, until);
  }
  return {
    cooldownUntil: (key) => local.cooldownUntil(kvKey(key)),
    async coolDown(key, until) {
      const safe = kvKey(key);
      const previous = local.cooldownUntil(safe) ?? 0;
      local.coolDown(safe, until);
      if (until <= previous) return;
      await kv.put(safe, { until }).catch(() => undefined);
    },
    async stop() {
      subscription.unsubscribe();
    },
  };
}
