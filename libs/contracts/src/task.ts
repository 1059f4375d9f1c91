// Contracts for the task domain: how a question travels through manager → tool-developer →
// executor → integrator. Task state lives in the manager's KV bucket (`tasks`); every role stores
// its step result before it tells the manager (`manager.work`), and acks its own work only after
// that, so a role killed mid-step delays a task and never loses it.
// The contracts live in task/, one file per group; this file re-exports them all.
export * from "./task/records.js";
export * from "./task/manager-endpoints.js";
export * from "./task/work-queues.js";
export * from "./task/step-results.js";
export * from "./task/repair.js";
export * from "./task/events.js";
export * from "./task/storage.js";
