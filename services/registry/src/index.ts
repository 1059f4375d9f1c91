export { registryEndpoints } from "./endpoints.js";
export { registerRegistryMetrics, DEFAULT_TOP_TOOLS } from "./metrics.js";
export { Registry, embeddingText } from "./registry.js";
export type { RegistryOptions } from "./registry.js";
export { HashingEmbedder, chooseEmbeddings } from "./retrieval/embedding.js";
export type { EmbeddingProvider, EmbeddingsMode } from "./retrieval/embedding.js";
export {
  exportLibrary,
  exportLibraryFiles,
  folderSource,
  importLibrary,
  readLibraryFolder,
  sentSource,
  writeLibraryFolder,
} from "./export.js";
export type { ExportSummary, ImportOptions, ImportSummary, LibraryFolder, LibrarySource } from "./export.js";
export { Bm25Index } from "./retrieval/bm25.js";
export { EXACT_SCAN_BUDGET, VectorIndex } from "./retrieval/vector-index.js";
export { reciprocalRankFusion } from "./retrieval/fuse.js";
export { checkTestEvidence, checkUsageEvidence } from "./evidence-gate.js";
export type { EvidenceTrust } from "./evidence-gate.js";
