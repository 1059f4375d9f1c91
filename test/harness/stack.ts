/**
 * The e2e harness starts the same process stack as `insitu up` (apps/cli/src/stack): a real
 * nats-server on a random port with a temp data dir, then every service as its own process, each
 * with `kill(service, signal)` / `restart(service)` for chaos tests. `GatewayClient` follows a
 * task's events over SSE exactly as `insitu ask` does.
 */
export { GatewayClient } from "@insitu/cli";
export { findRepoRoot, freePort, startStack } from "@insitu/cli/stack";
export type { Stack, StackOptions, StackService } from "@insitu/cli/stack";
export { startOtlpStandIn } from "./otlp.js";
export type { OtlpStandIn, ReceivedSpan } from "./otlp.js";
