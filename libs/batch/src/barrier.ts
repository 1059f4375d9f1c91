import type { Bus } from "@insitu/bus";
import { EVOLVER_BUCKET, EvolverWork, type EvolverReport, evolverReportKey } from "@insitu/contracts";
import { ErrorCode, InsituError } from "@insitu/errors";

/**
 * Asks for one barrier's absorb and waits for its report (batch runs call this at each batch's
 * end). Idempotent: the enqueue's message id is the barrier id, and a report already written is
 * returned at once — so a batch re-run after a kill does not absorb twice.
 */
export async function requestBarrier(
  bus: Bus,
  barrierId: string,
  options: { timeoutMs?: number; reason?: string; signal?: AbortSignal } = {},
): Promise<EvolverReport> {
  const state = await bus.kv(EVOLVER_BUCKET);
  const existing = await state.get<EvolverReport>(evolverReportKey(barrierId));
  if (existing) return existing.value;
  await bus.enqueue(
    EvolverWork,
    { barrierId, ...(options.reason ? { reason: options.reason } : {}) },
    { id: `evolver:${barrierId}` },
  );
  const deadline = Date.now() + (options.timeoutMs ?? 600_000);
  for (let wait = 50; Date.now() < deadline; wait = Math.min(wait * 2, 500)) {
    options.signal?.throwIfAborted();
    const entry = await state.get<EvolverReport>(evolverReportKey(barrierId));
    if (entry) return entry.value;
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
  throw new InsituError(`the evolver gave no report for barrier ${barrierId} in time; is it running?`, {
    code: ErrorCode.timeout,
    retryable: true,
    details: { barrierId },
  });
}
