export { discoverServices, orderServices } from "./discover.js";
export type { ServiceEntry } from "./discover.js";
export { colorFor, formatLogLine, splitLines } from "./log-format.js";
export type { LogFormatOptions } from "./log-format.js";
export { freePort, isPortInUse } from "./ports.js";
export { findRepoRoot } from "./repo-root.js";
export { dataDir } from "./paths.js";
export { startStack } from "./stack.js";
export type { Stack, StackOptions, StackService } from "./stack.js";
export {
  StackStateSchema,
  readStackState,
  removeStackState,
  stackStatePath,
  writeStackState,
} from "./state.js";
export type { StackState } from "./state.js";
export {
  StackSigningKeysSchema,
  generateStackKeys,
  loadOrCreateStackKeys,
  signingEnv,
} from "./signing-keys.js";
export type { StackSigningKeys } from "./signing-keys.js";
