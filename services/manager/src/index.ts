export { createManager } from "./service.js";
export type { EffectPort, Manager, ManagerDeps, TaskStateStore } from "./service.js";
export { applyWork } from "./machine.js";
export type { MachineDeps } from "./machine.js";
export { planRound, planSchema, renderPlanPrompt, toolRequestProblems, PLAN_LIMITS } from "./planner.js";
export type { Plan, PlanInput, ToolCandidate } from "./planner.js";
export { judgeRound, renderJudgePrompt, VerdictSchema } from "./judge.js";
export type { Verdict } from "./judge.js";
export { ManagerConfigSchema } from "./config.js";
