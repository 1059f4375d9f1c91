export { connectBus, jetStreamReplicas } from "./nats-bus.js";
export type { BusOptions } from "./nats-bus.js";
export { freePort, isPortInUse } from "./ports.js";
export { startNatsServer } from "./nats-server.js";
export type { NatsServerHandle, NatsServerOptions } from "./nats-server.js";
export { DEFAULT_LIMITS, decodeEnvelope, encodeEnvelope, jsonDepth, parseBounded } from "./codec.js";
export type { DecodeLimits } from "./codec.js";
export { LIVENESS_HEADER, LivenessDefaults, PeerFailure } from "./liveness.js";
export { Naming } from "./naming.js";
export { Semaphore } from "./semaphore.js";
export { endpoint } from "./types.js";
export type {
  Bus,
  BusHealth,
  ConsumeOptions,
  Consumer,
  DeadLetter,
  EndpointHandler,
  EnqueueOptions,
  KvBucket,
  KvEntry,
  KvOptions,
  MessageContext,
  ObjectBucket,
  ObjectBucketOptions,
  PublishOptions,
  RequestOptions,
  ServedService,
  ServiceDefinition,
  AnnounceDefinition,
  Subscription,
  WorkContext,
} from "./types.js";
export { DEAD_LETTER_LIMITS } from "./nats-bus.js";
export { deadLetterAdmin, openDeadLetterAdmin } from "./dead-letter-admin.js";
export type { DeadLetterAdmin, DeadLetterRecord } from "./dead-letter-admin.js";
export { BAD_ENTRIES_METRIC, QUARANTINE_HEADERS } from "./nats-bus.js";
export { openQuarantine } from "./quarantine-admin.js";
export type { QuarantinedEntry } from "./quarantine-admin.js";
export { CallOnce, ClaimDefaults, kvCallClaims, objectOutcomeStore } from "./run-once.js";
export type { CallClaim, CallClaims, CallOnceOptions, OutcomeStore } from "./run-once.js";
export {
  authorizationConfig,
  BUS_USERS,
  busUsers,
  generateBusCredentials,
  generatePassword,
  inboxPrefixFor,
  loadOrCreateBusCredentials,
  natsConnectOptions,
  redactUrl,
  jetStreamApi,
  RESPONSE_PERMISSION,
  rolePermissions,
  splitUrlCredentials,
  urlWithCredentials,
} from "./auth.js";
export type { BusCredentials, BusUser, NatsPermissions } from "./auth.js";
