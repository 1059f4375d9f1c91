export { registryEndpoints } from "./endpoints.js";
export { registerRegistryMetrics, DEFAULT_TOP_TOOLS } from "./metrics.js";
export { Registry, embeddingText } from "./registry.js";
export type { RegistryOptions } from "./registry.js";
export { HashingEmbedder } from "./retrieval/embedding.js";
export type { EmbeddingProvider } from "./retrieval/embedding.js";
export { exportLibrary, importLibrary } from "./export.js";
export type { ExportSummary, ImportSummary } from "./export.js";
