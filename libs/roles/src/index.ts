export { promptLibrary, renderTemplate } from "./prompts.js";
export type { PromptLibrary } from "./prompts.js";
export { responseSchemaFor } from "./response-schema.js";
export { modelForRole } from "./role-model.js";
export type { RoleModel } from "./role-model.js";
export { kvStepStore, managerNotifier, taskEventPublisher } from "./steps.js";
export type { StepDoneKind, StepStore } from "./steps.js";
export { consumeRoleWork } from "./work.js";
export type { RoleWorkOptions, WorkHooks } from "./work.js";
