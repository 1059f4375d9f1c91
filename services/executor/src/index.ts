export { createExecutor } from "./service.js";
export type { ExecutorDeps } from "./service.js";
export { runReact, renderWorkerPrompt, REQUEST_CAPABILITY } from "./react.js";
export type { ExecutorLimits, ReactDeps } from "./react.js";
export { classifyOutcome, isRepairable } from "./classify.js";
export { capabilityRequestOf, conclusionOf, section } from "./report.js";
export { ExecutorConfigSchema } from "./config.js";
