/**
 * The e2e harness starts the same process stack as `insitu up` (libs/cli/src/stack): a real
 * nats-server on a random port with a temp data dir, then every service as its own process.
 */
export { findRepoRoot, freePort, startStack } from "@insitu/cli/stack";
export type { Stack, StackOptions, StackService } from "@insitu/cli/stack";
