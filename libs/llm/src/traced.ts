import { inSpan, startSpan, tracingEnabled } from "@insitu/telemetry";
import type { GenerateResult, LanguageModel, StreamPart } from "./types.js";

/**
 * Tracing hook (docs/adr/0083): one span per model call with the token counts as attributes
 * (`gen_ai.*` semantic-convention names). Returns the model unchanged when tracing is off.
 */
export function withModelSpans(model: LanguageModel, role: string): LanguageModel {
  if (!tracingEnabled()) return model;
  const attributes = {
    "gen_ai.system": model.provider,
    "gen_ai.request.model": model.model,
    "insitu.role": role,
  };
  const usageAttributes = (result: GenerateResult) => ({
    "gen_ai.usage.input_tokens": result.usage.inputTokens,
    "gen_ai.usage.output_tokens": result.usage.outputTokens,
    "gen_ai.usage.cached_tokens": result.usage.cachedTokens,
    "gen_ai.response.finish_reasons": result.finishReason,
  });
  return {
    provider: model.provider,
    model: model.model,
    generate: (request) =>
      inSpan(`model ${role}`, { kind: "client", attributes }, async (span) => {
        const result = await model.generate(request);
        span.setAttributes(usageAttributes(result));
        return result;
      }),
    async *stream(request): AsyncIterable<StreamPart> {
      const span = startSpan(`model ${role}`, { kind: "client", attributes });
      try {
        for await (const part of model.stream(request)) {
          if (part.type === "finish") span.setAttributes(usageAttributes(part.result));
          yield part;
        }
        span.end();
      } catch (error) {
        span.end(error);
        throw error;
      }
    },
  };
}
