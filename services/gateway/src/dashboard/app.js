// The insitu dashboard: reads the gateway's JSON API and renders it. Every string from the API is
// put into the page with textContent / setAttribute (never innerHTML): tool names and descriptions
// come from a model and are treated as hostile.
import {
  EVENT_KINDS,
  batchBarrierRows,
  batchHeadline,
  describeEvent,
  evalData,
  evalHeadline,
  formatAge,
  formatCount,
  formatEgl,
  formatRate,
  formatUsd,
  growthData,
  isTerminalStatus,
  outcomeBars,
  statusClass,
  topToolRows,
} from "./format.js";
import { AuthedEventStream, authHeaders, gatewayToken, wireTokenForm } from "./gateway-auth.js";
import uPlot from "./vendor/uPlot.esm.js";

const REFRESH_MS = 3000;
const TASKS_SHOWN = 10;
const SVG = "http://www.w3.org/2000/svg";

/** Finished tasks' records never change: fetched once. */
const finishedRecords = new Map();
let refreshes = 0;
/** The token field: a saved or forgotten token reloads the page (its refresh loop starts over). */
const tokenForm = wireTokenForm(() => window.location.reload());

function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`dashboard markup lacks #${id}`);
  return element;
}

/** Creates an element; children are nodes or strings (strings become text nodes). */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  for (const child of children) element.append(child instanceof Node ? child : String(child ?? ""));
  return element;
}

function svg(tag, attributes = {}) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function getJson(path) {
  let response;
  try {
    response = await fetch(path, { headers: authHeaders({ accept: "application/json" }), cache: "no-store" });
  } catch {
    throw new ApiError("the gateway cannot be reached", 0, "UNREACHABLE");
  }
  let body;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const error = body && typeof body === "object" ? body.error : undefined;
    if (response.status === 401) tokenForm.ask();
    const message =
      response.status === 401
        ? unauthorizedMessage()
        : typeof error?.message === "string"
          ? error.message
          : `HTTP ${response.status}`;
    throw new ApiError(message, response.status, typeof error?.code === "string" ? error.code : "");
  }
  if (body === undefined) throw new ApiError(`${path} did not answer JSON`, response.status, "");
  return body;
}

function unauthorizedMessage() {
  return gatewayToken()
    ? "the gateway refused this token; enter its GATEWAY_API_TOKEN in the token field"
    : "the gateway requires a token; enter its GATEWAY_API_TOKEN in the token field";
}

function showError(error) {
  const banner = byId("error");
  const code = error instanceof ApiError && error.code ? ` (${error.code})` : "";
  const message = error instanceof Error ? error.message : String(error);
  banner.textContent = `Gateway error${code}: ${message}. Showing the last figures; retrying every ${REFRESH_MS / 1000} s.`;
  banner.hidden = false;
  document.body.dataset.state = "error";
}

function clearError() {
  const banner = byId("error");
  banner.hidden = true;
  banner.textContent = "";
  document.body.dataset.state = "ok";
}

function renderFigures(summary) {
  byId("m-library-size").textContent = formatCount(summary.librarySize);
  byId("m-snapshot").textContent =
    typeof summary.snapshot === "number" ? `snapshot ${formatCount(summary.snapshot)}` : "";
  byId("m-tools-created").textContent = formatCount(summary.toolsCreated);
  byId("m-tool-calls").textContent = formatCount(summary.toolCalls);
  byId("m-egl").textContent = formatEgl(summary.egl);
  byId("m-success-rate").textContent = formatRate(summary.successRate);
  byId("m-reuse-rate").textContent = formatRate(summary.reuseRate);
}

function renderOutcomes(callsByOutcome) {
  const container = byId("outcomes");
  const bars = outcomeBars(callsByOutcome);
  const total = bars.reduce((sum, bar) => sum + bar.count, 0);
  if (total === 0) {
    container.replaceChildren(h("p", { class: "muted" }, "No tool calls yet."));
    return;
  }
  const width = 400;
  const chart = svg("svg", {
    viewBox: `0 0 ${width} 24`,
    role: "img",
    "aria-label": bars.map((bar) => `${bar.outcome}: ${bar.count}`).join(", "),
  });
  const legend = h("ul", { class: "legend" });
  let x = 0;
  let other = 0;
  for (const bar of bars) {
    const tone = bar.outcome === "success" ? "success" : String(Math.min(other++, 3));
    const rect = svg("rect", {
      x: x.toFixed(2),
      y: 0,
      width: Math.max(bar.fraction * width, bar.count > 0 ? 2 : 0).toFixed(2),
      height: 24,
      rx: 3,
      class: `bar-${tone}`,
    });
    const title = svg("title");
    title.textContent = `${bar.outcome}: ${bar.count}`;
    rect.append(title);
    chart.append(rect);
    x += bar.fraction * width;
    legend.append(
      h(
        "li",
        { "data-outcome": bar.outcome },
        h("span", { class: `swatch swatch-${tone}` }),
        `${bar.outcome} `,
        h("strong", {}, formatCount(bar.count)),
      ),
    );
  }
  container.className = "outcomes";
  container.replaceChildren(chart, legend);
}

function renderTopTools(summary, listing) {
  const body = byId("top-tools").querySelector("tbody");
  const rows = topToolRows(summary, listing, 10);
  if (rows.length === 0) {
    body.replaceChildren(
      h(
        "tr",
        {},
        h("td", { colspan: 3, class: "empty" }, "The library is empty: no tool has been created yet."),
      ),
    );
    return;
  }
  body.replaceChildren(
    ...rows.map((row) =>
      h(
        "tr",
        { "data-tool": row.name },
        h(
          "td",
          {},
          h("div", { class: "tool-name" }, row.name),
          h("div", { class: "tool-description" }, row.description),
        ),
        h("td", { class: "num" }, formatCount(row.calls)),
        h("td", { class: "num" }, formatRate(row.successRate)),
      ),
    ),
  );
}

// ------------------------------------------------------------------ growth curves (uPlot)

const charts = {};

function chartWidth(element) {
  return Math.max(240, Math.floor(element.getBoundingClientRect().width || 400));
}

/** One line chart per figure; created on first data, then only fed new data. */
function drawChart(id, label, stroke, x, y, yRange) {
  const element = byId(id);
  const data = [x, y];
  if (charts[id]) {
    charts[id].setData(data);
    return;
  }
  charts[id] = new uPlot(
    {
      width: chartWidth(element),
      height: 220,
      scales: { x: { time: false }, y: yRange ? { range: yRange } : {} },
      // Whole tasks on the x axis (no 1.2 tasks).
      axes: [
        { label: "tasks (query index)", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] },
        { label },
      ],
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      series: [
        { label: "task" },
        { label, stroke, width: 2, points: { show: x.length <= 60 }, spanGaps: false },
      ],
    },
    data,
    element,
  );
}

function renderGrowth(series) {
  const { index, library, egl } = growthData(series);
  const state = byId("growth-state");
  if (index.length === 0) {
    state.textContent = "No finished task yet.";
    return;
  }
  state.textContent = `${formatCount(index.length)} finished task${index.length === 1 ? "" : "s"}${
    series.total > index.length
      ? ` (latest ${formatCount(index.length)} of ${formatCount(series.total)})`
      : ""
  }`;
  drawChart("chart-library", "tools", "#2f6fde", index, library);
  drawChart("chart-egl", "EGL", "#c2410c", index, egl, (_u, _min, max) => [0, Math.max(max ?? 0, 0.01)]);
  document.body.dataset.growthPoints = String(index.length);
}

// ------------------------------------------------------------------ evaluation panel (uPlot)

/**
 * The same four figures as `insitu eval`'s report plots, for the most recently updated eval.
 * Charts are rebuilt when their shape changes (another eval, new categories), else fed new data.
 */
function drawEvalChart(id, key, options, data) {
  const element = byId(id);
  const chart = charts[id];
  if (chart && chart.insituKey === key) {
    chart.setData(data);
    return;
  }
  if (chart) chart.destroy();
  element.replaceChildren();
  charts[id] = new uPlot(
    {
      width: chartWidth(element),
      height: 220,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      ...options,
    },
    data,
    element,
  );
  charts[id].insituKey = key;
}

/** Axis numbers that stay readable for small values (USD per query is often below a cent). */
function smallNumbers(_u, splits) {
  return splits.map((value) =>
    value === 0
      ? "0"
      : Math.abs(value) < 1
        ? String(Number(value.toPrecision(2)))
        : String(Number(value.toFixed(2))),
  );
}

/** y from 0 to the data's max (at least `floor`), so a flat series is not drawn at the top. */
function fromZero(floor) {
  return (_u, _min, max) => [0, Math.max(max ?? 0, floor)];
}

function lineOptions(xLabel, yLabel, stroke, count, yRange) {
  return {
    scales: { x: { time: false }, y: { range: yRange } },
    axes: [
      { label: xLabel, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] },
      { label: yLabel, values: smallNumbers, size: 60 },
    ],
    series: [
      { label: xLabel },
      { label: yLabel, stroke, width: 2, points: { show: count <= 60 }, spanGaps: false },
    ],
  };
}

function renderEvaluation(list) {
  const state = Array.isArray(list?.evals) ? list.evals[0] : undefined;
  const panel = byId("evaluation");
  if (!state) {
    byId("eval-state").textContent = "No eval yet. Run one with `insitu eval`.";
    panel.dataset.status = "none";
    byId("eval-charts").hidden = true;
    return;
  }
  // Shown before drawing: uPlot sizes each chart from its (visible) container.
  byId("eval-charts").hidden = false;
  const data = evalData(state);
  byId("eval-state").textContent = evalHeadline(state);
  panel.dataset.status = String(state.status);
  panel.dataset.evalId = String(state.evalId);
  panel.dataset.points = String(data.queries.length);
  panel.dataset.categories = String(data.categories.names.length);
  const key = `${state.evalId}|${state.run}`;
  const names = data.categories.names;
  // The canvas has no text a screen reader (or a test) can read: the figures go in its label.
  byId("chart-eval-accuracy").setAttribute(
    "aria-label",
    names.length === 0
      ? "Accuracy per category: not judged yet"
      : `Accuracy per category: ${names
          .map((name, index) => {
            const value = data.categories.accuracy[index];
            return `${name} ${typeof value === "number" ? `${value.toFixed(1)}%` : "—"} (${data.categories.notes[index]})`;
          })
          .join(", ")}`,
  );
  drawEvalChart(
    "chart-eval-accuracy",
    `${key}|${names.join("\u0000")}`,
    {
      scales: {
        x: { time: false, range: [-0.5, Math.max(0.5, names.length - 0.5)] },
        y: { range: [0, 100] },
      },
      axes: [
        {
          label: "category",
          splits: () => data.categories.x,
          values: (_u, splits) => splits.map((value) => names[value] ?? ""),
        },
        { label: "accuracy (%)" },
      ],
      series: [
        { label: "category" },
        {
          label: "accuracy",
          stroke: "#2f6fde",
          fill: "rgba(47, 111, 222, 0.75)",
          width: 1,
          paths: uPlot.paths.bars({ size: [0.6, 80] }),
          points: { show: false },
        },
      ],
    },
    [data.categories.x, data.categories.accuracy],
  );
  drawEvalChart(
    "chart-eval-library",
    key,
    lineOptions("queries", "tools", "#2f6fde", data.queries.length, fromZero(1)),
    [data.queries, data.library],
  );
  drawEvalChart(
    "chart-eval-egl",
    key,
    lineOptions("queries", "EGL", "#c2410c", data.queries.length, fromZero(0.01)),
    [data.queries, data.egl],
  );
  drawEvalChart(
    "chart-eval-cost",
    key,
    lineOptions("query", "USD", "#15803d", data.costQuery.length, fromZero(0.001)),
    [data.costQuery, data.cost],
  );
}

async function taskRecord(summary) {
  const cached = finishedRecords.get(summary.taskId);
  if (cached) return cached;
  try {
    const record = await getJson(`/v1/tasks/${encodeURIComponent(summary.taskId)}`);
    if (isTerminalStatus(record.status)) finishedRecords.set(summary.taskId, record);
    return record;
  } catch {
    return undefined;
  }
}

function toolList(names) {
  return Array.isArray(names) && names.length > 0 ? names.join(", ") : "—";
}

async function renderTasks(list) {
  const body = byId("tasks").querySelector("tbody");
  const tasks = (list.tasks ?? []).slice(0, TASKS_SHOWN);
  if (tasks.length === 0) {
    body.replaceChildren(
      h("tr", {}, h("td", { colspan: 6, class: "empty" }, "No tasks yet. Ask one with `insitu ask`.")),
    );
    return;
  }
  const records = await Promise.all(tasks.map(taskRecord));
  const now = Date.now();
  body.replaceChildren(
    ...tasks.map((task, index) => {
      const record = records[index];
      const status = record?.status ?? task.status;
      const link = h(
        "a",
        { href: `#events/${encodeURIComponent(task.taskId)}`, class: "events-link" },
        "events",
      );
      return h(
        "tr",
        { "data-task": task.taskId },
        h("td", {}, h("span", { class: `status ${statusClass(status)}` }, status)),
        h("td", { class: "question" }, task.question),
        h("td", { class: "created" }, record ? toolList(record.toolsCreated) : "…"),
        h("td", { class: "used" }, record ? toolList(record.toolsUsed) : "…"),
        h("td", { class: "muted", title: task.createdAt }, formatAge(task.createdAt, now)),
        h("td", {}, link),
      );
    }),
  );
}

function list(items) {
  if (items.length === 0) return "—";
  return h("ul", { class: "plain" }, ...items.map((item) => h("li", {}, item)));
}

/** The latest batch run's barrier reports (its rows come from GET /v1/batches/:id). */
async function renderBatches(runs) {
  const latest = Array.isArray(runs?.batches) ? runs.batches[0] : undefined;
  const panel = byId("batches");
  const body = byId("batch-barriers").querySelector("tbody");
  if (!latest) {
    panel.dataset.status = "none";
    body.replaceChildren();
    return;
  }
  const view = await getJson(`/v1/batches/${encodeURIComponent(latest.runId)}`);
  byId("batches-state").textContent = batchHeadline(view);
  panel.dataset.status = String(view.status);
  panel.dataset.runId = String(view.runId);
  const rows = batchBarrierRows(view);
  panel.dataset.barriers = String(rows.length);
  body.replaceChildren(
    ...rows.map((row) =>
      h(
        "tr",
        { "data-batch": String(row.batch) },
        h("td", { class: "num" }, formatCount(row.batch)),
        h("td", { class: "num groups" }, formatCount(row.groupsFound)),
        h("td", { class: "merged" }, list(row.merged)),
        h("td", { class: "rejected" }, list(row.rejected)),
        h("td", { class: "num" }, formatCount(row.tokens)),
        h("td", { class: "num" }, formatUsd(row.costUsd)),
        h("td", { class: "num" }, formatCount(row.librarySize)),
      ),
    ),
  );
}

// ------------------------------------------------------------------ operator review (ADR 0130)

let shownReviews = "";

/** The permissions the policy did not admit at once, as `net:host (review)`. */
function heldPermissions(version) {
  return (version.review?.permissions ?? [])
    .filter((permission) => permission.decision !== "auto")
    .map((permission) => `${permission.permission} (${permission.decision})`);
}

async function postJson(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: authHeaders({ "content-type": "application/json", accept: "application/json" }),
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => undefined);
  if (response.status === 401) {
    tokenForm.ask();
    throw new ApiError(unauthorizedMessage(), 401, "UNAUTHORIZED");
  }
  if (!response.ok) {
    const error = answer && typeof answer === "object" ? answer.error : undefined;
    throw new ApiError(error?.message ?? `HTTP ${response.status}`, response.status, error?.code ?? "");
  }
  return answer;
}

/** One version's code, tests and permissions, loaded when its details open. */
async function fillReviewDetails(container, hash) {
  const record = await getJson(`/v1/versions/${encodeURIComponent(hash)}`);
  const permissions = (record.review?.permissions ?? []).map((permission) =>
    h("li", {}, `${permission.permission}: ${permission.decision} (rule ${permission.rule})`),
  );
  const tests = record.tests.map((test) => h("li", {}, `${test.name}: ${JSON.stringify(test.input)}`));
  container.replaceChildren(
    h("p", {}, record.description),
    h("h4", {}, "Permissions"),
    h("ul", { class: "review-permissions" }, ...permissions),
    h("h4", {}, `Tests (${record.tests.length})`),
    h("ul", { class: "review-tests" }, ...tests),
    h("h4", {}, "Code"),
    h("pre", { class: "review-code" }, record.code),
  );
}

function reviewItem(version) {
  const details = h("div", { class: "review-details" }, "loading…");
  const disclosure = h("details", {}, h("summary", {}, "Code, tests and permissions"), details);
  disclosure.addEventListener("toggle", () => {
    if (disclosure.open) fillReviewDetails(details, version.hash).catch(showError);
  });
  const reason = h("input", {
    type: "text",
    class: "review-reason",
    placeholder: "reason (recorded)",
    "aria-label": "Reason",
  });
  const by = h("input", {
    type: "text",
    class: "review-by",
    placeholder: "your name",
    "aria-label": "Reviewer",
  });
  const status = h("span", { class: "review-status muted" });
  const decide = (decision) => async () => {
    if (!reason.value.trim() || !by.value.trim()) {
      status.textContent = "a reason and your name are required";
      return;
    }
    try {
      const summary = await postJson(`/v1/reviews/${encodeURIComponent(version.hash)}/decision`, {
        decision,
        by: by.value.trim(),
        reason: reason.value.trim(),
      });
      status.textContent = `${decision === "approve" ? "approved" : "denied"}: ${summary.status}`;
    } catch (error) {
      status.textContent = error instanceof Error ? error.message : String(error);
    }
  };
  const approve = h("button", { type: "button", class: "review-approve" }, "Approve");
  const deny = h("button", { type: "button", class: "review-deny" }, "Deny");
  approve.addEventListener("click", decide("approve"));
  deny.addEventListener("click", decide("deny"));
  return h(
    "li",
    { class: "review", "data-hash": version.hash },
    h(
      "div",
      { class: "review-head" },
      h("strong", {}, version.name),
      " ",
      h("span", { class: "mono muted" }, version.hash.slice(7, 19)),
    ),
    h("div", {}, `asks for: ${heldPermissions(version).join(", ")}`),
    h(
      "div",
      { class: "muted" },
      `requested by task ${version.review?.requestedByTask ?? version.createdByTask ?? "-"}`,
    ),
    disclosure,
    h("div", { class: "review-actions" }, by, reason, approve, deny, status),
  );
}

/** Re-rendered only when the set of pending versions changes (open details and typed reasons stay). */
function renderReviews(list) {
  const key = list.versions.map((version) => version.hash).join(",");
  if (key === shownReviews) return;
  shownReviews = key;
  byId("reviews-state").textContent =
    list.total === 0 ? "No tool is waiting for review." : `${list.total} waiting for an operator's decision.`;
  byId("reviews-list").replaceChildren(...list.versions.map(reviewItem));
}

async function refresh() {
  try {
    const [summary, listing, tasks, series, evals, batches] = await Promise.all([
      getJson("/v1/metrics/summary"),
      getJson("/v1/tools?limit=100"),
      getJson(`/v1/tasks?limit=${TASKS_SHOWN}`),
      getJson("/v1/metrics/series?limit=2000"),
      getJson("/v1/evals?limit=1"),
      getJson("/v1/batches?limit=1"),
    ]);
    renderFigures(summary);
    // A gateway without a registry to review with answers 503: the panel says so, the rest renders.
    renderReviews(await getJson("/v1/reviews?limit=50").catch(() => ({ total: 0, versions: [] })));
    renderGrowth(series);
    renderEvaluation(evals);
    await renderBatches(batches);
    renderOutcomes(summary.callsByOutcome);
    renderTopTools(summary, listing);
    await renderTasks(tasks);
    clearError();
    tokenForm.accepted();
    byId("updated").textContent =
      `updated ${new Date().toLocaleTimeString()} · refreshes every ${REFRESH_MS / 1000} s`;
  } catch (error) {
    showError(error);
  } finally {
    refreshes += 1;
    document.body.dataset.refreshes = String(refreshes);
    setTimeout(refresh, REFRESH_MS);
  }
}

// ------------------------------------------------------------------ live event panel (SSE)

let source;

function closeEvents() {
  if (source) source.close();
  source = undefined;
}

function openEvents(taskId) {
  closeEvents();
  const panel = byId("events-panel");
  const list = byId("events-list");
  const state = byId("events-state");
  byId("events-task").textContent = `task ${taskId}`;
  list.replaceChildren();
  state.textContent = "connecting…";
  panel.hidden = false;
  panel.dataset.state = "connecting";
  const url = `/v1/tasks/${encodeURIComponent(taskId)}/events`;
  // EventSource cannot send the bearer token: with one, the stream is read with fetch.
  const stream = gatewayToken() ? new AuthedEventStream(url) : new EventSource(url);
  source = stream;
  stream.onopen = () => {
    if (source !== stream) return;
    state.textContent = "live";
    panel.dataset.state = "live";
  };
  const onEvent = (message) => {
    if (source !== stream) return;
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    const time = typeof event.time === "string" ? event.time.slice(11, 19) : "";
    list.append(
      h(
        "li",
        { "data-kind": String(event.kind ?? message.type) },
        h("span", { class: "time" }, time),
        h("span", { class: "kind" }, String(event.kind ?? message.type)),
        describeEvent(event),
      ),
    );
    if (event.kind === "task-end") {
      // The task is over: the server ends the stream; do not let EventSource reconnect.
      stream.close();
      state.textContent = `ended: ${String(event.status)}`;
      panel.dataset.state = "ended";
    }
  };
  for (const kind of EVENT_KINDS) stream.addEventListener(kind, onEvent);
  stream.onmessage = onEvent;
  stream.onerror = () => {
    if (source !== stream) return;
    if (stream.readyState === EventSource.CLOSED) {
      state.textContent = "the event stream could not be opened (unknown task or gateway error)";
      panel.dataset.state = "failed";
    } else {
      state.textContent = "connection lost; reconnecting…";
      panel.dataset.state = "reconnecting";
    }
  };
}

function followHash() {
  const match = /^#events\/([A-Za-z0-9_-]+)$/.exec(window.location.hash);
  if (match) {
    openEvents(match[1]);
  } else {
    closeEvents();
    byId("events-panel").hidden = true;
  }
}

byId("events-close").addEventListener("click", () => {
  if (window.location.hash) window.location.hash = "";
  else followHash();
});
window.addEventListener("hashchange", followHash);
followHash();
refresh();
