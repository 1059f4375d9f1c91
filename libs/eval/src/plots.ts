/**
 * Small SVG charts for the eval report (no dependency, no script: they open in any browser, embed
 * in Markdown and convert to PNG with any rasterizer). Every text goes through {@link escapeXml}.
 */

const WIDTH = 720;
const HEIGHT = 380;
const MARGIN = { top: 48, right: 24, bottom: 72, left: 64 };
const COLORS = ["#2f6fb3", "#d9822b", "#3a9a5b", "#b33a3a", "#7a4fb3"];

export interface BarDatum {
  label: string;
  value: number;
  /** Error bar (e.g. the 95% interval), same unit as value. */
  low?: number;
  high?: number;
  note?: string;
}

export function barChart(options: {
  title: string;
  yLabel: string;
  data: readonly BarDatum[];
  yMax?: number;
}): string {
  const { title, yLabel, data } = options;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const yMax = options.yMax ?? niceMax(Math.max(1, ...data.map((d) => d.high ?? d.value)));
  const y = (v: number) => MARGIN.top + plotH - (Math.max(0, Math.min(v, yMax)) / yMax) * plotH;
  const slot = data.length === 0 ? plotW : plotW / data.length;
  const barW = Math.min(64, slot * 0.6);
  const parts: string[] = [header(title), ...yAxis(yMax, y, yLabel, plotW)];
  data.forEach((d, i) => {
    const x = MARGIN.left + slot * i + (slot - barW) / 2;
    const top = y(d.value);
    parts.push(
      `<rect x="${fmt(x)}" y="${fmt(top)}" width="${fmt(barW)}" height="${fmt(MARGIN.top + plotH - top)}" fill="${COLORS[0]}"><title>${escapeXml(`${d.label}: ${d.value.toFixed(1)}${d.note ? ` (${d.note})` : ""}`)}</title></rect>`,
    );
    if (d.low !== undefined && d.high !== undefined) {
      const cx = x + barW / 2;
      parts.push(
        `<path d="M${fmt(cx)} ${fmt(y(d.low))}V${fmt(y(d.high))}M${fmt(cx - 6)} ${fmt(y(d.low))}h12M${fmt(cx - 6)} ${fmt(y(d.high))}h12" stroke="#222" stroke-width="1.5" fill="none"/>`,
      );
    }
    parts.push(
      `<text x="${fmt(x + barW / 2)}" y="${fmt(top - 6)}" text-anchor="middle" font-size="12">${escapeXml(d.value.toFixed(1))}</text>`,
      `<text x="${fmt(x + barW / 2)}" y="${HEIGHT - MARGIN.bottom + 18}" text-anchor="middle" font-size="12">${escapeXml(truncate(d.label, 18))}</text>`,
    );
    if (d.note) {
      parts.push(
        `<text x="${fmt(x + barW / 2)}" y="${HEIGHT - MARGIN.bottom + 34}" text-anchor="middle" font-size="11" fill="#666">${escapeXml(d.note)}</text>`,
      );
    }
  });
  if (data.length === 0) parts.push(noData(plotW, plotH));
  parts.push("</svg>");
  return parts.join("\n");
}

export interface LineSeries {
  name: string;
  points: readonly (readonly [number, number])[];
}

export function lineChart(options: {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly LineSeries[];
}): string {
  const { title, xLabel, yLabel, series } = options;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const all = series.flatMap((s) => s.points);
  const xTicks = niceTicks(Math.max(1, ...all.map(([x]) => x)));
  const yTicks = niceTicks(Math.max(Number.EPSILON, ...all.map(([, v]) => v)));
  const xMax = xTicks.max;
  const yMax = yTicks.max;
  const x = (v: number) => MARGIN.left + (v / xMax) * plotW;
  const y = (v: number) => MARGIN.top + plotH - (v / yMax) * plotH;
  const parts: string[] = [header(title), ...yAxis(yMax, y, yLabel, plotW, yTicks.step)];
  for (let value = 0; value <= xMax + xTicks.step / 2; value += xTicks.step) {
    parts.push(
      `<text x="${fmt(x(value))}" y="${HEIGHT - MARGIN.bottom + 18}" text-anchor="middle" font-size="12">${escapeXml(label(value))}</text>`,
    );
  }
  parts.push(
    `<text x="${fmt(MARGIN.left + plotW / 2)}" y="${HEIGHT - MARGIN.bottom + 44}" text-anchor="middle" font-size="13">${escapeXml(xLabel)}</text>`,
  );
  series.forEach((s, index) => {
    const color = COLORS[index % COLORS.length];
    if (s.points.length > 0) {
      const d = s.points.map(([px, py], i) => `${i === 0 ? "M" : "L"}${fmt(x(px))} ${fmt(y(py))}`).join("");
      parts.push(`<path d="${d}" stroke="${color}" stroke-width="2" fill="none"/>`);
      for (const [px, py] of s.points) {
        parts.push(
          `<circle cx="${fmt(x(px))}" cy="${fmt(y(py))}" r="3" fill="${color}"><title>${escapeXml(`${s.name}: ${label(px)}, ${label(py)}`)}</title></circle>`,
        );
      }
    }
    parts.push(
      `<rect x="${MARGIN.left + 8 + index * 170}" y="${MARGIN.top - 20}" width="12" height="12" fill="${color}"/>`,
      `<text x="${MARGIN.left + 24 + index * 170}" y="${MARGIN.top - 10}" font-size="12">${escapeXml(truncate(s.name, 22))}</text>`,
    );
  });
  if (all.length === 0) parts.push(noData(plotW, plotH));
  parts.push("</svg>");
  return parts.join("\n");
}

function header(title: string): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#fff"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
  ].join("\n");
}

function yAxis(
  yMax: number,
  y: (v: number) => number,
  yLabel: string,
  plotW: number,
  step = yMax / 4,
): string[] {
  const parts: string[] = [];
  for (let value = 0; value <= yMax + step / 2; value += step) {
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${fmt(y(value))}" y2="${fmt(y(value))}" stroke="#ddd"/>`,
      `<text x="${MARGIN.left - 8}" y="${fmt(y(value) + 4)}" text-anchor="end" font-size="12">${escapeXml(label(value))}</text>`,
    );
  }
  parts.push(
    `<text transform="translate(16 ${MARGIN.top + (HEIGHT - MARGIN.top - MARGIN.bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="13">${escapeXml(yLabel)}</text>`,
  );
  return parts;
}

function noData(plotW: number, plotH: number): string {
  return `<text x="${MARGIN.left + plotW / 2}" y="${MARGIN.top + plotH / 2}" text-anchor="middle" font-size="14" fill="#888">no data</text>`;
}

/** Axis ticks: a 1/2/2.5/5 × 10ⁿ step giving about four intervals, and the axis end on a step. */
export function niceTicks(value: number): { max: number; step: number } {
  const step = niceMax(value / 4);
  return { max: step * Math.max(1, Math.ceil(value / step - 1e-9)), step };
}

/** The smallest 1/2/2.5/5 × 10ⁿ at or above `value`. */
export function niceMax(value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function label(value: number): string {
  if (Math.abs(value) < 1e-12) return "0";
  if (Math.abs(value) >= 100) return Math.round(value).toString();
  if (Math.abs(value) >= 1) return Number(value.toFixed(1)).toString();
  return Number(value.toPrecision(2)).toString();
}

function fmt(value: number): string {
  return Number.isFinite(value) ? value.toFixed(1) : "0";
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function escapeXml(text: string): string {
  return text.replace(
    /[<>&"']/g,
    (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c] ?? c,
  );
}
