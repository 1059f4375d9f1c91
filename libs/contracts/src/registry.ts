// Contracts for the registry domain: the versioned tool library, task-private pools, library
// snapshots, retrieval, usage records and convergence stats. Served by `services/registry`.
// The contracts live in registry/, one file per group; this file re-exports them all.
export * from "./registry/records.js";
export * from "./registry/versions.js";
export * from "./registry/snapshots.js";
export * from "./registry/search.js";
export * from "./registry/usage.js";
export * from "./registry/finish-task.js";
export * from "./registry/reviews.js";
