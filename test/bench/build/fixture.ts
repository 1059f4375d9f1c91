/**
 * A typical model-written tool for the build bench: ~100 lines, a manifest, helpers, an error
 * shape for bad input, and six test cases — the size the tool developer writes for one capability.
 */
import type { ToolTestCase } from "@insitu/tool-kit";

export function durationTool(variant: number): { code: string; tests: ToolTestCase[] } {
  const code = `// variant ${variant}: a different text each build, so no check cache can answer
export const manifest = {
  name: "parse_iso_duration",
  description: "Parses an ISO-8601 duration such as P1DT2H30M into total seconds and its parts.",
  inputSchema: {
    type: "object",
    properties: { text: { type: "string", description: "The ISO-8601 duration." } },
    required: ["text"],
    additionalProperties: false,
  },
  outputSchema: {
    type: "object",
    properties: {
      seconds: { type: "number" },
      parts: { type: "object" },
      error: { type: "string" },
    },
  },
  permissions: { network: [], secrets: [] },
};

interface Parts {
  years: number;
  months: number;
  weeks: number;
  days: number;
  hours: number;
  minutes: number;
  seconds: number;
}

const UNIT_SECONDS: Record<keyof Parts, number> = {
  years: 365 * 86400,
  months: 30 * 86400,
  weeks: 7 * 86400,
  days: 86400,
  hours: 3600,
  minutes: 60,
  seconds: 1,
};

const NUMBER = "(\\\\d+(?:\\\\.\\\\d+)?)";
const PATTERN = new RegExp(
  \`^P(?:\${NUMBER}Y)?(?:\${NUMBER}M)?(?:\${NUMBER}W)?(?:\${NUMBER}D)?(?:T(?:\${NUMBER}H)?(?:\${NUMBER}M)?(?:\${NUMBER}S)?)?$\`,
);

function toNumber(value: string | undefined): number {
  if (value === undefined) return 0;
  const parsed = Number(value);
  return Number.isFinite(parsed) ? parsed : 0;
}

export function parse(text: string): Parts | undefined {
  const upper = text.trim().toUpperCase();
  const match = PATTERN.exec(upper);
  if (!match || upper === "P" || upper.endsWith("T")) return undefined;
  return {
    years: toNumber(match[1]),
    months: toNumber(match[2]),
    weeks: toNumber(match[3]),
    days: toNumber(match[4]),
    hours: toNumber(match[5]),
    minutes: toNumber(match[6]),
    seconds: toNumber(match[7]),
  };
}

function total(parts: Parts): number {
  let sum = 0;
  for (const key of Object.keys(parts) as (keyof Parts)[]) {
    sum += parts[key] * UNIT_SECONDS[key];
  }
  return Math.round(sum * 1000) / 1000;
}

type Result = { seconds: number; parts: Parts } | { error: string };

export default async function run(input: { text: string }): Promise<Result> {
  if (typeof input.text !== "string" || input.text.length === 0) {
    return { error: "text must be a non-empty ISO-8601 duration" };
  }
  if (input.text.length > 200) return { error: "text is too long" };
  const parts = parse(input.text);
  if (!parts) return { error: \`"\${input.text}" is not an ISO-8601 duration\` };
  const seconds = total(parts);
  await Promise.resolve();
  return { seconds, parts };
}
`;
  const tests: ToolTestCase[] = [
    { name: "one hour", input: { text: "PT1H" }, expect: { subset: { seconds: 3600 } } },
    { name: "days and time", input: { text: "P1DT2H30M" }, expect: { subset: { seconds: 95400 } } },
    { name: "fractions", input: { text: "PT0.5S" }, expect: { subset: { seconds: 0.5 } } },
    { name: "weeks", input: { text: "P2W" }, expect: { subset: { seconds: 1209600 } } },
    {
      name: "not a duration",
      input: { text: "nonsense" },
      expect: { subset: { error: '"nonsense" is not an ISO-8601 duration' } },
    },
    { name: "rejects numbers", input: { text: 5 }, expect: { outcome: "INVALID_INPUT" } },
  ];
  return { code, tests };
}
