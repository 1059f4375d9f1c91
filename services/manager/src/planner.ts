import { ToolRequestSchema } from "@insitu/contracts";
import type { AttachmentRef, ToolRequest } from "@insitu/contracts";
import { attachmentList } from "@insitu/files";
import { type LanguageModel, type Usage, generateObject } from "@insitu/llm";
import { z } from "zod";
import { responseSchemaFor } from "@insitu/roles";
import { renderPrompt } from "./template.js";

/** A tool the registry's retrieval offered for this task. */
export interface ToolCandidate {
  name: string;
  /** Registry version id. */
  version: string;
  description: string;
  inputSchema: Record<string, unknown>;
  score?: number;
  /**
   * `pool`: built by this task in an earlier round; `library`: from the shared library;
   * `external`: a tool of an operator-configured MCP server (never in the library).
   */
  source?: "library" | "pool" | "external";
  /** For `external`: the MCP server that provides it. */
  server?: string;
  /** Calls recorded so far and the share that succeeded. */
  usage?: { calls: number; successRate: number };
}

/**
 * The compact catalog of the whole library (registry.catalog): one line per tool, the task's
 * retrieved neighbourhood first, then the most used.
 */
export interface PlanCatalog {
  /** The block as the prompt shows it (lines and "N more exist"). */
  text: string;
  total: number;
  omitted: number;
  /** Listed tools, so a catalog tool can be selected by name and bound to its version. */
  entries: { name: string; version: string }[];
}

export interface PlanInput {
  question: string;
  /** The whole library in one line per tool, within a token budget (absent: not available). */
  catalog?: PlanCatalog;
  /**
   * What a library check found for this round's tool requests: a library tool that covers (or may
   * cover) a requested capability. The plan is made again with these, so the model selects the
   * library tool instead of building its own.
   */
  libraryMatches?: { request: string; tool: string; strong: boolean }[];
  round: number;
  maxRounds: number;
  candidates: ToolCandidate[];
  failureReport?: string;
  capabilityRequests: string[];
  findings?: string;
  taskId: string;
  /** The question's files (name, type, size), shown with the question. */
  attachments?: AttachmentRef[];
}

export interface Plan {
  required_tool_names: string[];
  tool_usage_guidance: string;
  tool_requests: ToolRequest[];
}

/** Limits of the Tool Request Protocol, enforced on the model's answer (and fed back to it). */
export const PLAN_LIMITS = {
  maxParameters: 5,
  maxRequestsPerRound: 4,
} as const;

/** Name parts that mark a general-purpose code runner, which the protocol forbids. */
const FORBIDDEN_NAME_PARTS = new Set([
  "python",
  "javascript",
  "js",
  "typescript",
  "ts",
  "shell",
  "bash",
  "sh",
  "script",
  "code",
  "sql",
  "command",
  "cmd",
  "exec",
  "execute",
  "eval",
]);

/** Problems with one tool request under the Tool Request Protocol (empty when it complies). */
export function toolRequestProblems(request: ToolRequest, candidateNames: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const parts = request.name.split("_");
  const forbidden = parts.filter((part) => FORBIDDEN_NAME_PARTS.has(part));
  if (forbidden.length > 0) {
    problems.push(
      `${request.name}: tools that execute arbitrary code are forbidden (name part ${forbidden.join(", ")}); request a specific atomic capability instead`,
    );
  }
  if (candidateNames.has(request.name)) {
    problems.push(
      `${request.name}: a candidate tool already has this name; select it in required_tool_names instead`,
    );
  }
  const schema = request.input_schema;
  if (schema.type !== "object") problems.push(`${request.name}: input_schema.type must be "object"`);
  const properties = schema.properties;
  if (
    properties === undefined ||
    typeof properties !== "object" ||
    properties === null ||
    Array.isArray(properties)
  ) {
    problems.push(`${request.name}: input_schema.properties must be an object`);
  } else {
    const entries = Object.entries(properties as Record<string, unknown>);
    if (entries.length > PLAN_LIMITS.maxParameters) {
      problems.push(
        `${request.name}: has ${entries.length} input parameters; at most ${PLAN_LIMITS.maxParameters} are allowed`,
      );
    }
    for (const [key, value] of entries) {
      if (typeof value !== "object" || value === null || !("type" in value)) {
        problems.push(`${request.name}: parameter ${key} needs a JSON Schema "type"`);
      }
    }
  }
  if (request.output_schema.type !== "object")
    problems.push(`${request.name}: output_schema.type must be "object"`);
  return problems;
}

/** The plan schema for one round: shape plus the protocol rules, so violations go back to the model. */
export function planSchema(candidateNames: ReadonlySet<string>): z.ZodType<Plan> {
  return z
    .object({
      required_tool_names: z.array(z.string()).max(50),
      tool_usage_guidance: z.string().min(1).max(20_000),
      tool_requests: z.array(ToolRequestSchema).max(PLAN_LIMITS.maxRequestsPerRound),
    })
    .superRefine((plan, context) => {
      for (const name of plan.required_tool_names) {
        if (!candidateNames.has(name)) {
          context.addIssue({
            code: "custom",
            path: ["required_tool_names"],
            message: `${name} is not one of the candidate tools; use exact candidate names or request the tool`,
          });
        }
      }
      const seen = new Set<string>();
      plan.tool_requests.forEach((request, index) => {
        if (seen.has(request.name)) {
          context.addIssue({
            code: "custom",
            path: ["tool_requests", index, "name"],
            message: `${request.name} is requested twice`,
          });
        }
        seen.add(request.name);
        for (const problem of toolRequestProblems(request, candidateNames)) {
          context.addIssue({ code: "custom", path: ["tool_requests", index], message: problem });
        }
      });
    }) as z.ZodType<Plan>;
}

/** Candidates as the prompt lists them: name, description, parameters. */
export function formatCandidates(candidates: ToolCandidate[]): string {
  if (candidates.length === 0) return "(none: the library has nothing relevant yet)";
  return candidates
    .map((candidate, index) => {
      const properties = (candidate.inputSchema.properties ?? {}) as Record<
        string,
        { type?: unknown; description?: unknown }
      >;
      const required = new Set(
        Array.isArray(candidate.inputSchema.required) ? (candidate.inputSchema.required as string[]) : [],
      );
      const parameters = Object.entries(properties)
        .map(([key, value]) => {
          const type = typeof value?.type === "string" ? value.type : "any";
          const description = typeof value?.description === "string" ? ` — ${value.description}` : "";
          return `    - ${key} (${type}${required.has(key) ? ", required" : ""})${description}`;
        })
        .join("\n");
      const facts = [
        candidate.source === "pool" ? "built by this task in an earlier round" : undefined,
        candidate.source === "external"
          ? `external tool from MCP server ${candidate.server ?? "?"}, not in the library`
          : undefined,
        candidate.usage && candidate.usage.calls > 0
          ? `${candidate.usage.calls} calls, ${Math.round(candidate.usage.successRate * 100)}% succeeded`
          : undefined,
      ].filter(Boolean);
      const header = `${index + 1}. ${candidate.name}${facts.length > 0 ? ` (${facts.join("; ")})` : ""}`;
      return `${header}\n   ${candidate.description.replace(/\s+/g, " ").trim()}\n   parameters:\n${parameters || "    (none)"}`;
    })
    .join("\n");
}

/** Names the plan may select: the detailed candidates and every catalog line. */
export function selectableNames(input: Pick<PlanInput, "candidates" | "catalog">): Set<string> {
  const names = new Set(input.candidates.map((candidate) => candidate.name));
  for (const entry of input.catalog?.entries ?? []) names.add(entry.name);
  return names;
}

function formatCatalog(catalog: PlanCatalog | undefined): string {
  if (!catalog) return "(not available this round: only the candidates above can be selected)";
  if (catalog.total === 0) return "(the library is empty)";
  return catalog.text;
}

function formatLibraryMatches(matches: PlanInput["libraryMatches"]): string {
  if (!matches || matches.length === 0) return "(none)";
  return matches
    .map((match) =>
      match.strong
        ? `- Your request \`${match.request}\` is covered by the library tool \`${match.tool}\` (now among the candidates): select it and drop the request.`
        : `- Your request \`${match.request}\` may be covered by the library tool \`${match.tool}\` (now among the candidates): read its description; if it does the job, select it and drop the request, else keep the request.`,
    )
    .join("\n");
}

export function renderPlanPrompt(input: PlanInput): string {
  const attached = attachmentList(input.attachments);
  return renderPrompt("plan", {
    catalog: formatCatalog(input.catalog),
    catalogCount: input.catalog?.total ?? 0,
    libraryMatches: formatLibraryMatches(input.libraryMatches),
    question: attached ? `${input.question}\n\n${attached}` : input.question,
    round: input.round,
    maxRounds: input.maxRounds,
    candidateCount: input.candidates.length,
    candidates: formatCandidates(input.candidates),
    failureReport: input.failureReport?.trim() || "(none: this is the first attempt)",
    capabilityRequests:
      input.capabilityRequests.length > 0
        ? input.capabilityRequests.map((line) => `- ${line}`).join("\n")
        : "(none)",
    findings: input.findings?.trim() || "(none yet)",
  });
}

/** One planning call: structured output, protocol violations fed back to the model. */
export async function planRound(
  model: LanguageModel,
  input: PlanInput,
  options: { signal?: AbortSignal; maxRepairs?: number } = {},
): Promise<{ plan: Plan; usage: Usage }> {
  const candidateNames = selectableNames(input);
  const schema = planSchema(candidateNames);
  const result = await generateObject(
    model,
    {
      system: "You are the Manager of insitu. Reply with JSON only.",
      responseSchema: responseSchemaFor(schema),
      messages: [{ role: "user", content: renderPlanPrompt(input) }],
      taskId: input.taskId,
      signal: options.signal,
    },
    schema,
    { maxRepairs: options.maxRepairs ?? 2 },
  );
  return { plan: result.object, usage: result.usage };
}
