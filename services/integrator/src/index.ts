export { createIntegrator, fallbackAnswer } from "./service.js";
export type { IntegratorDeps } from "./service.js";
export { integrate, renderAnswerPrompt } from "./integrate.js";
export { IntegratorConfigSchema } from "./config.js";
