export { promptLibrary, renderTemplate } from "./prompts.js";
export type { PromptLibrary } from "./prompts.js";
export { responseSchemaFor } from "./response-schema.js";
export { modelForRole } from "./role-model.js";
export type { RoleModel, RoleModelOptions } from "./role-model.js";
export { LLM_COOLDOWNS_BUCKET, busRateLimitGate } from "./rate-limit-gate.js";
export { kvStepStore, managerNotifier, taskEventPublisher } from "./steps.js";
export type { StepDoneKind, StepStore } from "./steps.js";
export { consumeRoleWork } from "./work.js";
export type { RoleWorkOptions, WorkHooks } from "./work.js";
export { bindTool, execToolInSandbox, grantedSecretsFor, recordToolCall } from "./tool-calls.js";
export type { BoundTool } from "./tool-calls.js";
export {
  DEFAULT_RETRY_BACKOFF_MS,
  DEFAULT_SANDBOX_RETRY_WINDOW_MS,
  isPeerOutage,
  withinRetryWindow,
} from "./retry-window.js";
export type { RetryWindowOptions } from "./retry-window.js";
export { APPROVAL_POLICY_VARIABLE, loadApprovalPolicy } from "./approval-policy.js";
export { defineRoleStep } from "./role-step.js";
export type {
  ResultReader,
  RoleStep,
  RoleStepDefinition,
  StepContext,
  StepPorts,
  StepQueue,
} from "./role-step.js";
export { taskUsage, usageOfFailure } from "./task-usage.js";
export { describeOutcome } from "./describe-outcome.js";
