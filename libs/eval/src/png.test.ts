import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { barChart } from "./plots.js";
import { findPlotFont, pngRenderer, pngSize } from "./png.js";
import { writeReport } from "./report.js";
import { scoreRun } from "./score.js";

// Real resvg and the machine's DejaVu Sans (fonts-dejavu-core is on every machine of this project).
const chart = barChart({
  title: "Accuracy by category",
  yLabel: "accuracy (%)",
  yMax: 100,
  data: [{ label: "numbers", value: 50, low: 10, high: 90, note: "1/2" }],
});

/** Count of pixels in a region that are not white (text is drawn in black). */
async function inkIn(png: Buffer, box: { x: number; y: number; w: number; h: number }): Promise<number> {
  const { Resvg } = await import("@resvg/resvg-js");
  // Decode by re-rendering the PNG as an <image> (resvg decodes PNG) at scale 1 into raw RGBA.
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${box.w}" height="${box.h}"><image x="${-box.x}" y="${-box.y}" width="${pngSize(png).width}" height="${pngSize(png).height}" xlink:href="data:image/png;base64,${png.toString("base64")}"/></svg>`;
  const raw = new Resvg(svg).render();
  const pixels = raw.pixels;
  let ink = 0;
  for (let i = 0; i < pixels.length; i += 4)
    if ((pixels[i] ?? 255) < 128 && (pixels[i + 3] ?? 0) > 128) ink++;
  return ink;
}

describe("PNG plots", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "insitu-png-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("renders an SVG chart to a PNG of twice its size, with its title drawn in the font", async () => {
    expect(findPlotFont({})?.file).toMatch(/\.ttf$/);
    const made = await pngRenderer({ env: {} });
    if (!("render" in made)) throw new Error(made.warning);
    const png = made.render(chart);
    expect(pngSize(png)).toEqual({ width: 1440, height: 760 });
    // The title band (y 0–30 of the 720×380 SVG) holds black text only when a font was loaded.
    expect(await inkIn(png, { x: 400, y: 10, w: 640, h: 40 })).toBeGreaterThan(200);
  });

  it("pngSize rejects what is not a PNG", () => {
    expect(() => pngSize(Buffer.from("<svg/>"))).toThrow(/not a PNG/);
  });

  it("with no usable font the report is still written, SVG only, with a warning saying how to fix it", async () => {
    const made = await pngRenderer({ env: { INSITU_PLOT_FONT: "/nonexistent/font.ttf" } });
    expect("warning" in made && made.warning).toMatch(/INSITU_PLOT_FONT=.*SVG only/);
    const out = join(dir, "nofont");
    const written = await writeReport(
      out,
      {
        benchmark: "jsonl",
        dataset: "x",
        judge: { provider: "p", model: "m" },
        protocol: {},
        runs: [{ metrics: scoreRun([]), scored: [], batches: [] }],
      },
      { env: { INSITU_PLOT_FONT: "/nonexistent/font.ttf" } },
    );
    expect(written.pngs).toEqual([]);
    expect(written.warnings.join("\n")).toMatch(/SVG only/);
    expect((await readdir(join(out, "plots"))).filter((f) => f.endsWith(".png"))).toEqual([]);
    expect(await readFile(join(out, "report.md"), "utf8")).not.toContain("PNG copies");
  });

  it("writeReport puts a PNG beside each SVG by default", async () => {
    const out = join(dir, "default");
    const written = await writeReport(out, {
      benchmark: "jsonl",
      dataset: "x",
      judge: { provider: "p", model: "m" },
      protocol: {},
      runs: [{ metrics: scoreRun([]), scored: [], batches: [] }],
    });
    expect(written.warnings).toEqual([]);
    expect((await readdir(join(out, "plots"))).sort()).toEqual([
      "accuracy-by-category.png",
      "accuracy-by-category.svg",
      "cost-per-query.png",
      "cost-per-query.svg",
      "egl.png",
      "egl.svg",
      "library-size.png",
      "library-size.svg",
    ]);
    expect(pngSize(await readFile(join(out, "plots", "egl.png")))).toEqual({ width: 1440, height: 760 });
    expect(await readFile(join(out, "report.md"), "utf8")).toContain("PNG copies beside them");
  });
});
