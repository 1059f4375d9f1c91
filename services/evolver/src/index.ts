export { barrierTag, runBarrier } from "./absorb.js";
export type { EvolverPorts, RecordedCall } from "./absorb.js";
export { preCluster, similarity, words } from "./cluster.js";
export type { ClusterCandidate } from "./cluster.js";
export { InputMappingSchema, applyMapping, mappingProblems } from "./mapping.js";
export type { InputMapping } from "./mapping.js";
export { EvolverConfigSchema } from "./config.js";
export { createEvolver } from "./service.js";
export { requestBarrier } from "./client.js";
