/**
 * FAKES for tests and offline demos of @insitu/llm. Nothing here talks to a real model: the
 * scripted model's answers are written by a person, and the stand-in server only imitates a
 * provider's wire format.
 */
export {
  HashingEmbeddingModel,
  SCRIPTED_PROVIDER,
  ScriptedModel,
  createScriptedModel,
  estimateTokens,
  hashingVector,
  matches,
} from "./scripted.js";
export type {
  ScriptedModelOptions,
  ScriptedReply,
  ScriptedResponder,
  ScriptedRule,
  ScriptedStep,
  ScriptedWhen,
} from "./scripted.js";
export { loadScenario, parseScenario, scenarioFileSchema } from "./scenario.js";
export type { Scenario, ScenarioFile } from "./scenario.js";
export { startStandInServer } from "./stand-in-server.js";
export type { StandInReply, StandInRequest, StandInServer } from "./stand-in-server.js";
export {
  Misbehaviour,
  geminiAnswer,
  misbehavingReply,
  startMisbehavingGemini,
} from "./misbehaving-gemini.js";
export type { LedgerEntry, MisbehavingGemini, MisbehavingOptions } from "./misbehaving-gemini.js";
