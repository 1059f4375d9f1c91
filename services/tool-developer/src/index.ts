export { createToolDeveloper } from "./service.js";
export type { DeveloperRegistry, ToolDeveloper, ToolDeveloperDeps } from "./service.js";
export { DraftSchema, developTool, renderBuildPrompt, renderRepairPrompt, replayFailure } from "./develop.js";
export type { BuildEvidence, DevelopResult } from "./develop.js";
export { composeModule, stripManifest } from "./compose.js";
export { ToolDeveloperConfigSchema } from "./config.js";
export { sandboxPorts } from "./adapters.js";
export { vettedLibraries } from "./libraries.js";
