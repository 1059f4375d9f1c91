import { z } from "zod";

/** USD per million tokens. `cachedInput` defaults to `input` when absent. */
export const priceSchema = z
  .object({
    input: z.number().nonnegative(),
    output: z.number().nonnegative(),
    cachedInput: z.number().nonnegative().optional(),
  })
  .strict();
export type ModelPrice = z.infer<typeof priceSchema>;

/**
 * List prices in USD per million tokens at the time of writing (prompts ≤ 200k tokens).
 * Override in the config file's `prices` when they change or for other models.
 */
export const DEFAULT_PRICES: Record<string, ModelPrice> = {
  "gemini-3-pro-preview": { input: 2, output: 12, cachedInput: 0.2 },
  "gemini-3-flash-preview": { input: 0.5, output: 3, cachedInput: 0.05 },
  "gemini-2.5-pro": { input: 1.25, output: 10, cachedInput: 0.125 },
  "gemini-2.5-flash": { input: 0.3, output: 2.5, cachedInput: 0.03 },
  "gemini-embedding-001": { input: 0.15, output: 0 },
};
