import type { Bus, Consumer } from "@insitu/bus";
import type { Payload, WorkQueueContract } from "@insitu/contracts";

/** What a role's step handler learns about the delivery it is working on. */
export interface WorkHooks {
  /** Extends the ack deadline while long work goes on. */
  heartbeat: () => void;
  /** Aborted when the service is stopping: the bus hands the item back to another replica. */
  signal: AbortSignal;
  /** True on the bus's last delivery: a failure now is stored as the step's final result. */
  lastDelivery: boolean;
}

export interface RoleWorkOptions {
  ackWaitMs: number;
  maxDeliver: number;
  concurrency: number;
}

/** Consumes a role's durable work queue with the settings every role uses. */
export function consumeRoleWork<C extends WorkQueueContract>(
  bus: Bus,
  contract: C,
  handle: (work: Payload<C>, hooks: WorkHooks) => Promise<unknown>,
  options: RoleWorkOptions,
): Promise<Consumer> {
  return bus.consume(
    contract,
    async (work, context) => {
      await handle(work, {
        heartbeat: () => context.heartbeat(),
        signal: context.signal,
        lastDelivery: context.deliveryCount >= options.maxDeliver,
      });
    },
    { ...options, backoffMs: [500, 1000, 2000, 5000] },
  );
}
