// Port picking lives beside the nats-server harness in @insitu/bus; the stack uses the same rules.
export { freePort, isPortInUse } from "@insitu/bus";
