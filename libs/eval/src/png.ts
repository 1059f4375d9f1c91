import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

/**
 * PNG copies of the report's SVG plots, rendered with resvg (a Rust rasterizer shipped as a native
 * npm package, no browser or Cairo). resvg draws text only with a font file it is given, so the
 * renderer loads one system font (DejaVu Sans by default, INSITU_PLOT_FONT to choose another);
 * when none is found — or the native package cannot load on this platform — it renders nothing
 * and says why, and the report keeps its SVGs (ADR 0096).
 */

/** Where Debian/Ubuntu, Fedora, Arch and Alpine put DejaVu Sans (then `fc-match` is asked). */
const FONT_CANDIDATES = [
  "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
  "/usr/share/fonts/dejavu/DejaVuSans.ttf",
  "/usr/share/fonts/TTF/DejaVuSans.ttf",
  "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
  "/usr/local/share/fonts/DejaVuSans.ttf",
];

export interface FontChoice {
  file: string;
  family: string;
}

/** The font the PNGs are drawn with, or null when the machine has none usable. */
export function findPlotFont(env: Record<string, string | undefined> = process.env): FontChoice | null {
  const chosen = env.INSITU_PLOT_FONT;
  if (chosen !== undefined)
    return chosen && existsSync(chosen) ? { file: chosen, family: familyOf(chosen) } : null;
  for (const file of FONT_CANDIDATES) if (existsSync(file)) return { file, family: "DejaVu Sans" };
  try {
    const file = execFileSync("fc-match", ["-f", "%{file}", "DejaVu Sans:style=Book"], {
      encoding: "utf8",
      timeout: 5_000,
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
    if (file && /\.(ttf|otf|ttc)$/i.test(file) && existsSync(file)) return { file, family: familyOf(file) };
  } catch {
    // no fontconfig: fall through
  }
  return null;
}

/** The font's family name (resvg selects by family); fontconfig's reading of the file, else DejaVu Sans. */
function familyOf(file: string): string {
  try {
    const family = execFileSync("fc-scan", ["-f", "%{family[0]}", file], {
      encoding: "utf8",
      timeout: 5_000,
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
    if (family) return family;
  } catch {
    // no fontconfig
  }
  return "DejaVu Sans";
}

export type PngRenderer = (svg: string) => Buffer;

/**
 * A renderer for SVG → PNG at `scale` (1 = the SVG's own pixel size), or a reason why there is
 * none (no font, or the native resvg binary is missing for this platform). Never throws.
 */
export async function pngRenderer(
  options: { scale?: number; env?: Record<string, string | undefined> } = {},
): Promise<{ render: PngRenderer } | { warning: string }> {
  const font = findPlotFont(options.env);
  if (!font) {
    return {
      warning: options.env?.INSITU_PLOT_FONT
        ? `INSITU_PLOT_FONT=${options.env.INSITU_PLOT_FONT} is not a readable font file; plots written as SVG only`
        : "no font found for PNG plots (install fonts-dejavu-core or set INSITU_PLOT_FONT=/path/to/font.ttf); plots written as SVG only",
    };
  }
  let Resvg: typeof import("@resvg/resvg-js").Resvg;
  try {
    ({ Resvg } = await import("@resvg/resvg-js"));
  } catch (error) {
    return {
      warning: `PNG renderer @resvg/resvg-js could not load on ${process.platform}-${process.arch} (${(error as Error).message.split("\n")[0]}); plots written as SVG only`,
    };
  }
  const scale = options.scale ?? 2;
  return {
    render: (svg) => {
      // The SVGs name font-family="sans-serif": map it (and every generic family) to the one file.
      const family = font.family;
      const resvg = new Resvg(svg, {
        fitTo: { mode: "zoom", value: scale },
        background: "#ffffff",
        font: {
          fontFiles: [font.file],
          loadSystemFonts: false,
          defaultFontFamily: family,
          sansSerifFamily: family,
          serifFamily: family,
          monospaceFamily: family,
        },
      });
      return resvg.render().asPng();
    },
  };
}

/** Width and height from a PNG's IHDR chunk; throws when `png` is not a PNG. */
export function pngSize(png: Uint8Array): { width: number; height: number } {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (png.length < 24 || signature.some((byte, i) => png[i] !== byte))
    throw new Error("not a PNG (bad signature)");
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  if (String.fromCharCode(...png.subarray(12, 16)) !== "IHDR") throw new Error("not a PNG (no IHDR first)");
  return { width: view.getUint32(16), height: view.getUint32(20) };
}
