import type { ServerResponse } from "node:http";
import type { BatchRunView } from "@insitu/batch";
import type { Logger } from "@insitu/telemetry";
import type { GatewayBatches } from "../backend.js";
import type { SseStream } from "../http/sse.js";

/**
 * `GET /v1/batches/:id/events`: `progress` whenever the count or phase moves, one `batch` per
 * finished batch (its figures and the evolver's barrier report), then `done` (the final view,
 * status `done` or `failed`) and the stream ends. It follows the run's KV records, so any gateway
 * replica can serve it whichever replica runs the batch. A reconnecting client is sent the finished
 * batches again (they carry their `batch` number; Last-Event-ID is not needed to dedupe).
 */
export async function streamBatchEvents(
  batches: GatewayBatches,
  runId: string,
  stream: SseStream,
  response: ServerResponse,
  logger: Logger,
): Promise<void> {
  stream.comment(`batch ${runId}`);
  let sequence = 0;
  const sentRows = new Set<number>();
  let lastProgress = "";
  let finished = false;
  const send = (event: string, data: unknown) => {
    sequence += 1;
    stream.send({ id: sequence, event, data });
  };
  const emit = (view: BatchRunView) => {
    for (const row of view.rows) {
      if (sentRows.has(row.batch)) continue;
      sentRows.add(row.batch);
      send("batch", row);
    }
    const progress = {
      runId,
      status: view.status,
      done: view.done,
      total: view.total,
      batchesDone: view.rows.length,
      batches: view.batches,
      ...(view.phase ? { phase: view.phase } : {}),
      ...(view.etaMs === undefined ? {} : { etaMs: view.etaMs }),
      ...(view.error ? { error: view.error } : {}),
    };
    const key = JSON.stringify({ ...progress, etaMs: undefined });
    if (key !== lastProgress) {
      lastProgress = key;
      send("progress", progress);
    }
    if (view.status === "done" || view.status === "failed") {
      finished = true;
      const { rows: _rows, ...summary } = view;
      send("done", summary);
      // Let the write flush before ending the response.
      setImmediate(() => stream.close());
    }
  };
  // Reads are serialized and coalesced: a burst of KV changes costs one read after the current one.
  let reading = false;
  let again = false;
  const refresh = async (): Promise<void> => {
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      do {
        again = false;
        if (finished || stream.isClosed) return;
        const view = await batches.get(runId);
        if (view && !stream.isClosed) emit(view);
      } while (again);
    } catch (error) {
      logger.warn("batch event stream could not read the run", { runId, error });
    } finally {
      reading = false;
    }
  };
  // Watch first, then read: a change between the two is not lost.
  const subscription = await batches.watch(runId, () => void refresh());
  if (stream.isClosed) {
    subscription.unsubscribe();
    return;
  }
  response.once("close", () => subscription.unsubscribe());
  await refresh();
}
