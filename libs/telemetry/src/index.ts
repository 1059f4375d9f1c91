export { LogLevel, createLogger } from "./logger.js";
export type { LogFields, Logger, LoggerOptions } from "./logger.js";
export { MetricName, createMetricsRegistry } from "./metrics.js";
export { childSpan, formatTraceparent, newTrace, parseTraceparent } from "./trace.js";
export type { TraceContext } from "./trace.js";
