/**
 * Asking for a barrier needs only the contracts and the bus, so it lives in @insitu/batch (which
 * libraries may import; docs/adr/0110); kept here so `@insitu/evolver/client` callers keep working.
 */
export { requestBarrier } from "@insitu/batch";
