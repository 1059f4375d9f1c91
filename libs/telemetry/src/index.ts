export { LogLevel, createLogger } from "./logger.js";
export type { LogFields, Logger, LoggerOptions } from "./logger.js";
export { MetricName, createMetricsRegistry } from "./metrics.js";
export { readRoleModels, recordRoleModel } from "./model-info.js";
export type { RoleModelInfo } from "./model-info.js";
export { childSpan, formatTraceparent, newTrace, parseTraceparent } from "./trace.js";
export type { TraceContext } from "./trace.js";
export {
  currentTrace,
  initTracing,
  inSpan,
  startSpan,
  tracingEnabled,
  withTrace,
} from "./tracing.js";
export type { ActiveSpan, SpanKindName, SpanOptions, TracingHandle } from "./tracing.js";
