import { Registry, collectDefaultMetrics } from "prom-client";

/**
 * One prom-client registry per service, with the service name as a default label and Node's
 * process metrics. Metric names live in {@link MetricName}; each carries its unit in the name.
 */
export function createMetricsRegistry(service: string, options: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (options.defaultMetrics ?? true)
    collectDefaultMetrics({ register: registry, prefix: "insitu_process_" });
  return registry;
}

/**
 * Every metric name in insitu, once. Units are in the names (Prometheus conventions):
 * `_seconds`, `_bytes`, `_total` for counters, `_ratio` for 0..1 gauges.
 */
export const MetricName = {
  // bus
  busRequestsTotal: "insitu_bus_requests_total",
  busRequestDurationSeconds: "insitu_bus_request_duration_seconds",
  busRejectedMessagesTotal: "insitu_bus_rejected_messages_total",
  busDeadLettersTotal: "insitu_bus_dead_letters_total",
  busWorkInFlight: "insitu_bus_work_in_flight",
  // service
  serviceReady: "insitu_service_ready",
  // sandbox
  sandboxExecutionsTotal: "insitu_sandbox_executions_total",
  sandboxExecutionDurationSeconds: "insitu_sandbox_execution_duration_seconds",
  sandboxQueueDepth: "insitu_sandbox_queue_depth",
  sandboxLimitEnforcement: "insitu_sandbox_limit_enforcement",
  sandboxLimitDegraded: "insitu_sandbox_limit_degraded",
  sandboxExecutionsRunning: "insitu_sandbox_executions_running",
  sandboxWarmProcesses: "insitu_sandbox_warm_processes",
  sandboxWarmTakesTotal: "insitu_sandbox_warm_takes_total",
  sandboxCallPeakMemoryBytes: "insitu_sandbox_call_peak_memory_bytes",
  sandboxChecksTotal: "insitu_sandbox_checks_total",
  sandboxEgressRequestsTotal: "insitu_sandbox_egress_requests_total",
  sandboxEgressDeniedTotal: "insitu_sandbox_egress_denied_total",
  sandboxEgressBytesTotal: "insitu_sandbox_egress_bytes_total",
  // registry / convergence
  libraryTools: "insitu_library_tools",
  toolsCreatedTotal: "insitu_tools_created_total",
  toolCallsTotal: "insitu_tool_calls_total",
  evolutionaryGeneralityLoss: "insitu_egl_ratio",
  toolSuccessRatio: "insitu_tool_success_ratio",
  toolReuseRatio: "insitu_tool_reuse_ratio",
  tasksSeenTotal: "insitu_tasks_seen_total",
  librarySnapshot: "insitu_library_snapshot",
  /**
   * The snapshot whose tool set is served while the current one's body is unreadable (ADR 0117);
   * no sample while the current snapshot reads.
   */
  librarySnapshotServed: "insitu_library_snapshot_served_fallback",
  topToolCallsTotal: "insitu_top_tool_calls",
  /** Tools admitted to the library, cumulative (EGL's numerator; ADR 0056). */
  toolsAdmittedTotal: "insitu_tools_admitted_total",
  /** EGL over the last window of tool calls (ADR 0056). */
  eglWindowRatio: "insitu_egl_window_ratio",
  /** Per-batch and per-query-index convergence series (ADR 0056). */
  batchEglRatio: "insitu_batch_egl_ratio",
  batchLibraryTools: "insitu_batch_library_tools",
  /** Tool builds the Manager did not start because a library tool covered the request. */
  buildsAvoidedTotal: "insitu_builds_avoided_total",
  // llm
  llmCallsTotal: "insitu_llm_calls_total",
  llmTokensTotal: "insitu_llm_tokens_total",
  llmCostUsdTotal: "insitu_llm_cost_usd_total",
  llmLatencySeconds: "insitu_llm_latency_seconds",
  llmErrorsTotal: "insitu_llm_errors_total",
  llmBudgetExceededTotal: "insitu_llm_budget_exceeded_total",
  llmRetriesTotal: "insitu_llm_retries_total",
  /**
   * 1 per role with a model configured, 0 when the role has none (its calls fail saying what to
   * set); labels role, provider, model. Read by the service's $SRV status endpoint and `insitu status`.
   */
  modelConfigured: "insitu_model_configured",
  // gateway
  gatewayHttpRequestsTotal: "insitu_gateway_http_requests_total",
  gatewayHttpRequestDurationSeconds: "insitu_gateway_http_request_duration_seconds",
  // tasks
  tasksTotal: "insitu_tasks_total",
  taskDurationSeconds: "insitu_task_duration_seconds",
} as const;
export type MetricName = (typeof MetricName)[keyof typeof MetricName];
