/** Reading the executor's Markdown report. */

/** The text under a `## <title>` heading (case-insensitive), up to the next `## ` heading. */
export function section(report: string, title: string): string | undefined {
  const lines = report.split("\n");
  const wanted = title.toLowerCase();
  let collecting = false;
  const collected: string[] = [];
  for (const line of lines) {
    const heading = /^#{1,4}\s+(.+?)\s*$/.exec(line);
    if (heading) {
      if (collecting) break;
      if ((heading[1] ?? "").toLowerCase().replace(/[*_]/g, "").startsWith(wanted)) {
        collecting = true;
        continue;
      }
    }
    if (collecting) collected.push(line);
  }
  const text = collected.join("\n").trim();
  return collecting && text ? text : undefined;
}

/** The conclusion: the Final Conclusion section, else the last paragraph. */
export function conclusionOf(report: string): string {
  const found = section(report, "final conclusion");
  if (found) return found;
  const paragraphs = report
    .split(/\n\s*\n/)
    .map((paragraph) => paragraph.trim())
    .filter(Boolean);
  return paragraphs.at(-1) ?? "";
}

/** The optional "Additional Tool Requirement" section as a capability request. */
export function capabilityRequestOf(
  report: string,
): { capability: string; reason: string; intendedUse: string } | undefined {
  const text = section(report, "additional tool requirement");
  if (!text) return undefined;
  const field = (name: RegExp): string | undefined => {
    const match = text.split("\n").find((line) => name.test(line));
    return match?.replace(/^\s*[-*]?\s*[^:]+:\s*/, "").trim() || undefined;
  };
  const capability = field(/capability/i) ?? text.split("\n")[0]?.trim() ?? text;
  return {
    capability: capability.slice(0, 4000),
    reason: (field(/why|reason/i) ?? "").slice(0, 4000),
    intendedUse: (field(/intended use|use/i) ?? "").slice(0, 4000),
  };
}

/** Rough token count (4 characters a token) — enough to decide when to summarise. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}
