import type { Payload, RegistryRegister } from "@insitu/contracts";
import type { ToolManifest } from "@insitu/tool-kit";

/**
 * A registrable tool version for tests: a real, valid module (not a fake) whose description and
 * parameters are given, so retrieval tests can ask for it by meaning.
 */
export function toolSource(
  name: string,
  description: string,
  parameters: string[] = ["text"],
  variant = "",
): { manifest: ToolManifest; code: string; tests: Payload<typeof RegistryRegister>["tests"] } {
  const manifest: ToolManifest = {
    name,
    description,
    inputSchema: {
      type: "object",
      properties: Object.fromEntries(parameters.map((parameter) => [parameter, { type: "string" }])),
      required: parameters,
      additionalProperties: false,
    },
    outputSchema: { type: "object", properties: { result: { type: "string" } }, required: ["result"] },
    permissions: { network: [], secrets: [] },
  };
  const code = `export const manifest = ${JSON.stringify(manifest, null, 2)};

export default async function run(input: Record<string, string>): Promise<{ result: string }> {
  // ${variant || "first version"}
  return { result: Object.values(input).join(" ") };
}
`;
  const tests = [
    {
      name: "echoes",
      input: Object.fromEntries(parameters.map((p) => [p, "x"])),
      expect: { outcome: "ok" as const },
    },
  ];
  return { manifest, code, tests };
}

/** A register request for {@link toolSource}, with the evidence a passing test run gives. */
export function registerRequest(
  taskId: string,
  name: string,
  description: string,
  options: { parameters?: string[]; variant?: string; parents?: string[] } = {},
): Payload<typeof RegistryRegister> {
  const request: Payload<typeof RegistryRegister> = {
    taskId,
    ...toolSource(name, description, options.parameters, options.variant),
    evidence: [
      { kind: "test-run", summary: "1/1 tests passed", passed: 1, failed: 0, time: new Date().toISOString() },
    ],
  };
  if (options.parents) request.parents = options.parents;
  return request;
}

export {
  loadQualityLibrary,
  loadQualitySet,
  measureRecall,
  padTools,
  splitQuestions,
} from "./quality-set.js";
export type { QualityQuestion, QualityTool, RecallReport } from "./quality-set.js";
