// Pure formatting helpers of the dashboard (no DOM): served to the browser as /dashboard/format.js
// and unit-tested in Node (format.test.ts). Types: format.d.ts.

const TERMINAL = new Set(["succeeded", "failed", "budget-exceeded"]);
const STATUSES = new Set([
  "queued",
  "planning",
  "building",
  "executing",
  "judging",
  "integrating",
  "succeeded",
  "failed",
  "budget-exceeded",
]);

/** Whole numbers with thousands separators; "—" when not a finite number. */
export function formatCount(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "—";
  return Math.round(value).toLocaleString("en-US");
}

/** A 0..1 rate as a percentage ("—" before the first call, i.e. null). */
export function formatRate(rate) {
  if (typeof rate !== "number" || !Number.isFinite(rate)) return "—";
  const percent = rate * 100;
  if (percent === 0 || percent === 100) return `${percent}%`;
  return `${percent < 10 ? percent.toFixed(1) : Math.round(percent)}%`;
}

/** EGL (tools admitted to the library / tool calls) with three decimals ("—" before the first call). */
export function formatEgl(egl) {
  if (typeof egl !== "number" || !Number.isFinite(egl)) return "—";
  return egl.toFixed(3);
}

/** "12 s ago", "3 min ago", "2 h ago", "4 d ago" (time is ISO-8601; now in ms). */
export function formatAge(time, now) {
  const then = Date.parse(String(time));
  if (Number.isNaN(then)) return "";
  const seconds = Math.max(0, Math.round((now - then) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} d ago`;
}

/** A CSS class for a task status: only known statuses map to their own class (no injection). */
export function statusClass(status) {
  return STATUSES.has(status) ? `status-${status}` : "status-unknown";
}

export function isTerminalStatus(status) {
  return TERMINAL.has(status);
}

/**
 * Calls by outcome as bars, largest first: `fraction` is of all calls (0 when there are none).
 * Entries that are not non-negative numbers are ignored.
 */
export function outcomeBars(callsByOutcome) {
  const entries = Object.entries(callsByOutcome ?? {}).filter(
    ([, count]) => typeof count === "number" && Number.isFinite(count) && count >= 0,
  );
  const total = entries.reduce((sum, [, count]) => sum + count, 0);
  return entries
    .map(([outcome, count]) => ({ outcome, count, fraction: total > 0 ? count / total : 0 }))
    .sort((a, b) => b.count - a.count || a.outcome.localeCompare(b.outcome));
}

/**
 * The top-tools table: the summary's most-called tools joined with the library listing (for the
 * success rate and description), then the rest of the library by calls. At most `limit` rows.
 */
export function topToolRows(summary, listing, limit = 10) {
  const byName = new Map();
  for (const tool of listing?.tools ?? []) {
    if (tool && typeof tool.name === "string") byName.set(tool.name, tool);
  }
  const rows = [];
  const seen = new Set();
  const push = (name, calls) => {
    if (seen.has(name)) return;
    seen.add(name);
    const tool = byName.get(name);
    const usage = tool?.usage;
    rows.push({
      name,
      calls,
      successRate: usage && usage.calls > 0 ? usage.successRate : null,
      description: typeof tool?.description === "string" ? tool.description : "",
    });
  };
  for (const top of summary?.topTools ?? []) {
    if (top && typeof top.name === "string") push(top.name, Number(top.calls) || 0);
  }
  const rest = [...byName.values()].sort(
    (a, b) => (b.usage?.calls ?? 0) - (a.usage?.calls ?? 0) || a.name.localeCompare(b.name),
  );
  for (const tool of rest) push(tool.name, tool.usage?.calls ?? 0);
  return rows.slice(0, limit);
}

function clip(text, max) {
  const value = String(text ?? "");
  return value.length > max ? `${value.slice(0, max - 1)}…` : value;
}

/** One line describing a task event for the live event panel. */
export function describeEvent(event) {
  if (!event || typeof event !== "object") return "";
  switch (event.kind) {
    case "task-start":
      return `question: ${clip(event.question, 200)}`;
    case "plan-end":
      return `round ${event.round}: chose [${(event.toolsChosen ?? []).join(", ")}], requested [${(event.toolsRequested ?? []).join(", ")}]`;
    case "tool-build-start":
      return `writing ${event.name}: ${clip(event.description, 160)}`;
    case "tool-build-attempt": {
      const tests =
        event.testsTotal === undefined ? "" : ` (${event.testsPassed ?? 0}/${event.testsTotal} tests)`;
      return `attempt ${event.attempt} of ${event.name}: ${event.result}${tests}`;
    }
    case "tool-build-end":
      return event.ok
        ? `registered ${event.name}`
        : `could not build ${event.name}: ${clip(event.reason, 160)}`;
    case "tool-review-pending":
      return `${event.name} waits for review of ${(event.permissions ?? []).join(", ")}${event.waiting ? " (the task waits)" : " (the task goes on without it)"}`;
    case "tool-call-start":
      return `calling ${event.tool}(${clip(event.input, 160)})`;
    case "tool-call-end":
      return `${event.tool}: ${event.outcome} in ${Math.round(Number(event.durationMs) || 0)} ms → ${clip(event.output, 160)}`;
    case "tool-repair-end":
      return event.ok
        ? `repaired ${event.tool}`
        : `could not repair ${event.tool}: ${clip(event.reason, 160)}`;
    case "executor-report":
      return `report: ${clip(event.conclusion, 200)}`;
    case "judge-end":
      return `judge: ${event.verdict} (${clip(event.reason, 160)})`;
    case "task-end": {
      const answer = event.answer?.final_answer;
      const tail =
        answer === undefined
          ? event.error
            ? `: ${clip(event.error.message, 200)}`
            : ""
          : ` → ${clip(answer, 200)}`;
      return `${event.status}${tail}`;
    }
    default:
      return clip(JSON.stringify(event), 200);
  }
}

/** Every event kind the gateway's SSE stream names (EventSource needs a listener per name). */
export const EVENT_KINDS = [
  "task-start",
  "plan-end",
  "tool-build-start",
  "tool-build-attempt",
  "tool-build-end",
  "tool-review-pending",
  "tool-call-start",
  "tool-call-end",
  "tool-repair-end",
  "executor-report",
  "judge-end",
  "task-end",
];

/**
 * The growth curves' data from GET /v1/metrics/series: x = query index, the library size after
 * each finished task, and EGL (null before the first call: a gap, not a 0).
 */
export function growthData(series) {
  const points = Array.isArray(series?.points) ? series.points : [];
  const index = [];
  const library = [];
  const egl = [];
  for (const point of points) {
    if (typeof point?.index !== "number") continue;
    index.push(point.index);
    library.push(typeof point.librarySize === "number" ? point.librarySize : null);
    egl.push(typeof point.egl === "number" && Number.isFinite(point.egl) ? point.egl : null);
  }
  return { index, library, egl };
}

/**
 * The Evaluation panel's data from one GET /v1/evals state: accuracy per category (x = 0..n−1,
 * names for the axis), library size and EGL vs queries (one point per finished batch), and cost per
 * answered query. Anything not a finite number becomes null (a gap), never a 0.
 */
export function evalData(state) {
  const num = (value) => (typeof value === "number" && Number.isFinite(value) ? value : null);
  const categories = Array.isArray(state?.byCategory) ? state.byCategory : [];
  const batches = Array.isArray(state?.batches) ? state.batches : [];
  const costs = Array.isArray(state?.costPerQuery) ? state.costPerQuery : [];
  return {
    categories: {
      x: categories.map((_, index) => index),
      names: categories.map((category) => String(category?.name ?? "")),
      notes: categories.map(
        (category) => `${formatCount(category?.correct)}/${formatCount(category?.total)}`,
      ),
      accuracy: categories.map((category) => num(category?.accuracy)),
    },
    queries: batches.map((point) => num(point?.queries) ?? 0),
    library: batches.map((point) => num(point?.librarySize)),
    egl: batches.map((point) => num(point?.egl)),
    costQuery: costs.map((point) => num(point?.query) ?? 0),
    cost: costs.map((point) => num(point?.costUsd)),
  };
}

/** One line about an eval: "jsonl · run 1/1 · asking · 2/3 answered · 0 judged · accuracy —". */
export function evalHeadline(state) {
  const accuracy =
    typeof state?.accuracy === "number" && Number.isFinite(state.accuracy)
      ? `${state.accuracy.toFixed(1)}%`
      : "—";
  return [
    String(state?.benchmark ?? "eval"),
    `run ${formatCount(state?.run)}/${formatCount(state?.runs)}`,
    String(state?.status ?? "unknown"),
    `${formatCount(state?.answered)}/${formatCount(state?.items)} answered`,
    `${formatCount(state?.judged)} judged`,
    `accuracy ${accuracy}`,
  ].join(" · ");
}

/**
 * One row per barrier of a batch run (GET /v1/batches/:id): groups the pre-clustering found,
 * merges made ("merged ← member + member"), merges refused with their stage and reason, and the
 * barrier's own tokens and cost. A batch without a barrier report shows dashes.
 */
export function batchBarrierRows(view) {
  const rows = Array.isArray(view?.rows) ? view.rows : [];
  return rows.map((row) => {
    const barrier = row?.barrier;
    const merged = Array.isArray(barrier?.merged) ? barrier.merged : [];
    const rejected = Array.isArray(barrier?.rejected)
      ? barrier.rejected
      : Array.isArray(row?.rejected)
        ? row.rejected
        : [];
    return {
      batch: Number(row?.batch),
      groupsFound: typeof barrier?.groupsFound === "number" ? barrier.groupsFound : null,
      merged: merged.map(
        (entry) => `${String(entry?.name)} ← ${(entry?.members ?? []).map(String).join(" + ")}`,
      ),
      rejected: rejected.map(
        (entry) =>
          `${(entry?.members ?? []).map(String).join(" + ")} (${String(entry?.stage)}): ${String(entry?.reason)}`,
      ),
      tokens: typeof barrier?.tokens === "number" ? barrier.tokens : null,
      costUsd: typeof barrier?.costUsd === "number" ? barrier.costUsd : null,
      librarySize: typeof row?.librarySize === "number" ? row.librarySize : null,
    };
  });
}

/** "run 0123456789ab · running · 12/24 done · batch 2/3" */
export function batchHeadline(view) {
  return [
    `run ${String(view?.runId ?? "?")}`,
    String(view?.status ?? "unknown"),
    `${formatCount(view?.done)}/${formatCount(view?.total)} done`,
    `${formatCount(Array.isArray(view?.rows) ? view.rows.length : 0)}/${formatCount(view?.batches)} batches`,
  ].join(" · ");
}

/** USD with 4 decimals ("—" when unknown). */
export function formatUsd(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "—";
  return `$${value.toFixed(4)}`;
}
