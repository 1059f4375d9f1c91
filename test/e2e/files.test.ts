import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { appendFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { inflateSync } from "node:zlib";
import type { TaskRecord } from "@insitu/contracts";
import {
  type StandInReply,
  type StandInRequest,
  type StandInServer,
  hashingVector,
  startStandInServer,
} from "@insitu/llm/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, findRepoRoot, startStack } from "../harness/stack.js";

/**
 * Files and images through the whole system, submitted THROUGH THE GATEWAY (with `insitu ask -f`
 * and plain HTTP). Every role runs the real @google/genai SDK against a local Gemini stand-in
 * (FAKE MODEL — its answers come from the policy below, computed from what each request carries:
 * the inline image's pixels, the tools' results). Tools run for real in Deno; a local HTTP test
 * host (allowed by the sandbox operator's policy) serves the CSV to download. Two sandbox
 * replicas (two processes) share only JetStream.
 */

const run = promisify(execFile);
const root = findRepoRoot();
const insitu = join(root, "bin", "insitu");
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/files/${name}`, import.meta.url));
const toolSource = (name: string) =>
  readFileSync(fileURLToPath(new URL(`./fixtures/files/${name}.tool.txt`, import.meta.url)), "utf8");
const TRANSCRIPTS = process.env.E2E_TRANSCRIPTS;

let gemini: StandInServer;
let testHost: StandInServer;
let configDir: string;
let stack: Stack;
let secondReplica: Stack;
let gateway: string;
const logs: string[] = [];

/** What the Gemini stand-in saw that the tests check. */
const seen = {
  /** Inline data parts of executor requests: [mimeType, decoded bytes]. */
  executorInline: [] as { mimeType: string; bytes: Buffer }[],
  planPrompts: [] as string[],
  /** The sandbox replica pid that ran download_file, and the one killed before the next call. */
  killedReplicaPid: undefined as number | undefined,
};

// ---------------------------------------------------------------------------------------------
// The Gemini stand-in (FAKE MODEL).

interface Part {
  text?: string;
  inlineData?: { mimeType: string; data: string };
  functionCall?: { name: string; args?: Record<string, unknown> };
  functionResponse?: { name: string; response?: Record<string, unknown> };
}
interface GeminiBody {
  systemInstruction?: { parts?: Part[] };
  contents?: { role: string; parts: Part[] }[];
}

function roleOf(system: string): string {
  if (/Manager\**\s+of insitu/.test(system)) return "manager";
  if (/Tool Developer\**\s+of insitu/.test(system)) return "tool-developer";
  if (system.includes("**Executor** of insitu")) return "executor";
  if (/Integrator\**\s+of insitu/.test(system)) return "integrator";
  return "unknown";
}

const textOf = (parts: Part[] = []) => parts.map((part) => part.text ?? "").join("");

function reply(parts: Part[], promptChars: number) {
  return {
    json: {
      candidates: [{ content: { role: "model", parts }, finishReason: "STOP", index: 0 }],
      usageMetadata: { promptTokenCount: Math.ceil(promptChars / 4), candidatesTokenCount: 20 },
      modelVersion: "gemini-stand-in",
    },
  };
}

const stringSchema = (description: string) => ({ type: "string", description });

const TOOLS = {
  download_file: {
    request: {
      name: "download_file",
      description:
        "Downloads a file from a URL into the task workspace and returns its workspace path and size.",
      input_schema: {
        type: "object",
        properties: {
          url: stringSchema("The file's URL."),
          path: stringSchema("Workspace path to save to."),
        },
        required: ["url"],
      },
      output_schema: {
        type: "object",
        properties: {
          path: { type: "string" },
          bytes: { type: "integer" },
          replica_dir: { type: "string" },
          error: { type: "string" },
        },
      },
    },
    tests: [
      {
        name: "a bad URL is reported",
        input: { url: "not a url" },
        expect: { checks: [{ path: "error", op: "contains", value: "not a URL" }] },
      },
      { name: "a missing url is invalid input", input: {}, expect: { outcome: "INVALID_INPUT" } },
    ],
    network: true,
  },
  sum_csv_column: {
    request: {
      name: "sum_csv_column",
      description: "Sums the numbers of one column of a CSV file in the task workspace.",
      input_schema: {
        type: "object",
        properties: {
          path: stringSchema("Workspace path of the CSV."),
          column: stringSchema("Column name."),
        },
        required: ["path", "column"],
      },
      output_schema: {
        type: "object",
        properties: {
          column: { type: "string" },
          rows: { type: "integer" },
          sum: { type: "number" },
          replica_dir: { type: "string" },
          error: { type: "string" },
        },
      },
    },
    tests: [
      {
        name: "a missing file is reported",
        input: { path: "missing.csv", column: "n" },
        expect: { checks: [{ path: "error", op: "contains", value: "cannot read" }] },
      },
      {
        name: "a missing column is invalid input",
        input: { path: "a.csv" },
        expect: { outcome: "INVALID_INPUT" },
      },
    ],
    network: false,
  },
  read_pdf_text: {
    request: {
      name: "read_pdf_text",
      description: "Extracts the text of a PDF file in the task workspace.",
      input_schema: {
        type: "object",
        properties: { path: stringSchema("Workspace path of the PDF.") },
        required: ["path"],
      },
      output_schema: {
        type: "object",
        properties: { path: { type: "string" }, text: { type: "string" }, error: { type: "string" } },
      },
    },
    tests: [
      {
        name: "a missing file is reported",
        input: { path: "missing.pdf" },
        expect: { checks: [{ path: "error", op: "contains", value: "cannot read" }] },
      },
      { name: "a missing path is invalid input", input: {}, expect: { outcome: "INVALID_INPUT" } },
    ],
    network: false,
  },
} as const;

function plan(question: string) {
  if (question.includes("towns.csv"))
    return {
      required_tool_names: [],
      tool_usage_guidance:
        "1. download_file the CSV. 2. sum_csv_column on the saved path, column population.",
      tool_requests: [TOOLS.download_file.request, TOOLS.sum_csv_column.request],
    };
  if (question.includes("memo"))
    return {
      required_tool_names: [],
      tool_usage_guidance: "Call read_pdf_text on the attached PDF and quote the code.",
      tool_requests: [TOOLS.read_pdf_text.request],
    };
  return { required_tool_names: [], tool_usage_guidance: "Look at the attached image.", tool_requests: [] };
}

/** The colour of a PNG's first pixel (8-bit RGB, as the fixture is): the stand-in "looks". */
function pngColour(bytes: Buffer): string {
  let offset = 8;
  const data: Buffer[] = [];
  while (offset < bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString("latin1", offset + 4, offset + 8);
    if (type === "IDAT") data.push(bytes.subarray(offset + 8, offset + 8 + length));
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(data));
  const [r = 0, g = 0, b = 0] = [raw[1], raw[2], raw[3]];
  const name = r > 150 && g < 80 && b < 80 ? "red" : g > 150 && r < 80 ? "green" : b > 150 ? "blue" : "grey";
  return `${name} (RGB ${r},${g},${b})`;
}

function report(conclusion: string, evidence: string): string {
  return [
    "## Reasoning & Plan",
    "Worked from the files of the task.",
    "",
    "## Key Findings & Evidence",
    `- ${evidence}`,
    "",
    "## Final Conclusion",
    `ANSWER: ${conclusion}`,
  ].join("\n");
}

async function executorTurn(body: GeminiBody, promptChars: number): Promise<StandInReply> {
  const contents = body.contents ?? [];
  const first = contents[0];
  const question = textOf(first?.parts);
  for (const part of first?.parts ?? [])
    if (part.inlineData)
      seen.executorInline.push({
        mimeType: part.inlineData.mimeType,
        bytes: Buffer.from(part.inlineData.data, "base64"),
      });
  const responses = contents.flatMap((content) => content.parts).filter((part) => part.functionResponse);
  const latest = responses.at(-1)?.functionResponse;
  if (!latest) {
    if (question.includes("towns.csv")) {
      const url = /(http:\/\/\S+\/towns\.csv)/.exec(question)?.[1] ?? "";
      return reply([{ functionCall: { name: "download_file", args: { url } } }], promptChars);
    }
    if (question.includes("memo")) {
      const name = /- (\S+\.pdf) \(application\/pdf/.exec(question)?.[1] ?? "";
      return reply([{ functionCall: { name: "read_pdf_text", args: { path: name } } }], promptChars);
    }
    const image = first?.parts.find((part) => part.inlineData?.mimeType.startsWith("image/"));
    if (!image?.inlineData)
      return reply([{ text: report("no image was given", "the request carried no image") }], promptChars);
    const colour = pngColour(Buffer.from(image.inlineData.data, "base64"));
    return reply(
      [{ text: report(colour.split(" ")[0] ?? "", `the attached image is filled with ${colour}`) }],
      promptChars,
    );
  }
  const output = (latest.response ?? {}) as Record<string, unknown>;
  if (latest.name === "download_file") {
    if (typeof output.path !== "string")
      return reply(
        [{ text: report("not found", `download failed: ${JSON.stringify(output)}`) }],
        promptChars,
      );
    // The next call must run on the OTHER sandbox replica: stop the one that ran this call.
    const pid = Number(/insitu-sandbox-(\d+)-/.exec(String(output.replica_dir))?.[1]);
    const owner = [stack, secondReplica].find((candidate) => candidate.services.get("sandbox")?.pid === pid);
    if (owner) {
      seen.killedReplicaPid = pid;
      await owner.kill("sandbox", "SIGTERM");
    }
    return reply(
      [{ functionCall: { name: "sum_csv_column", args: { path: output.path, column: "population" } } }],
      promptChars,
    );
  }
  if (latest.name === "sum_csv_column")
    return reply(
      [
        {
          text: report(
            String(output.sum ?? "not found"),
            `sum_csv_column(${JSON.stringify(output.column)}) over ${String(output.rows)} rows gave ${String(output.sum)}`,
          ),
        },
      ],
      promptChars,
    );
  const code = /code is (\d+)/.exec(String(output.text ?? ""))?.[1];
  return reply(
    [{ text: report(code ?? "not found", `read_pdf_text read: ${JSON.stringify(output).slice(0, 300)}`) }],
    promptChars,
  );
}

async function answerGemini(request: StandInRequest): Promise<StandInReply> {
  if (!request.path.includes("/models/"))
    return { status: 404, json: { error: { code: 404, message: "no" } } };
  if (request.path.endsWith(":batchEmbedContents")) {
    const body = request.body as {
      requests: { content: { parts: { text: string }[] }; outputDimensionality?: number }[];
    };
    return {
      json: {
        embeddings: body.requests.map((item) => ({
          values: hashingVector(
            item.content.parts.map((part) => part.text).join(" "),
            item.outputDimensionality ?? 768,
          ),
        })),
      },
    };
  }
  const body = request.body as GeminiBody;
  const system = textOf(body.systemInstruction?.parts);
  const contents = body.contents ?? [];
  const lastText = textOf(contents.at(-1)?.parts);
  const promptChars = JSON.stringify(body).length;
  const json = (value: unknown) => reply([{ text: JSON.stringify(value) }], promptChars);
  switch (roleOf(system)) {
    case "manager":
      if (system.includes("judging"))
        return json({ status: "FINISH", reason: "The report cites tool evidence." });
      seen.planPrompts.push(lastText);
      return json(plan(contents.map((content) => textOf(content.parts)).join("\n")));
    case "tool-developer": {
      const all = contents.map((content) => textOf(content.parts)).join("\n");
      const name = (Object.keys(TOOLS) as (keyof typeof TOOLS)[]).find((candidate) =>
        all.includes(`**name**: \`${candidate}\``),
      );
      if (!name) return { status: 400, json: { error: { code: 400, message: "unknown tool request" } } };
      const tool = TOOLS[name];
      return json({
        code: toolSource(name),
        tests: tool.tests,
        permissions: {
          network: tool.network ? [new URL(testHost.url).host] : [],
          secrets: [],
          files: "task",
        },
        notes: "Works in the task workspace.",
      });
    }
    case "executor":
      return executorTurn(body, promptChars);
    case "integrator": {
      const answer = /ANSWER: (.+)/
        .exec(lastText.slice(lastText.lastIndexOf("## Final Conclusion")))?.[1]
        ?.trim();
      return json({
        final_answer: answer ?? "not found",
        reasoning_summary: `From the executor's report: ${answer}`,
      });
    }
    default:
      return {
        status: 400,
        json: { error: { code: 400, message: `unrecognised request: ${system.slice(0, 80)}` } },
      };
  }
}

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  expect(process.env.INSITU_SCRIPT, "the services must not inherit a scripted model").toBeUndefined();
  gemini = await startStandInServer(answerGemini);
  testHost = await startStandInServer((request) =>
    request.method === "GET" && request.path === "/data/towns.csv"
      ? { headers: { "content-type": "text/csv" }, raw: readFileSync(fixture("towns.csv"), "utf8") }
      : { status: 404, raw: "not found" },
  );
  configDir = mkdtempSync(join(tmpdir(), "insitu-files-e2e-"));
  writeFileSync(
    join(configDir, "insitu.models.json"),
    JSON.stringify({
      default: {
        provider: "gemini",
        baseUrl: gemini.url,
        apiKeyEnv: "GEMINI_API_KEY",
        retry: { maxAttempts: 2, initialDelayMs: 50, maxDelayMs: 200 },
      },
    }),
  );
  const env = {
    LOG_LEVEL: "warn",
    INSITU_MODELS_CONFIG: join(configDir, "insitu.models.json"),
    GEMINI_API_KEY: "gemini-e2e-files",
    WORKSPACE_RETENTION_HOURS: "1",
  };
  // The operator allows exactly the test host (a loopback address is internal otherwise).
  // `deno check` gets room for a loaded CI host (the first check of each replica fills its cache).
  const sandboxEnv = {
    SANDBOX_INTERNAL_HOSTS: new URL(testHost.url).host,
    SANDBOX_CHECK_TIMEOUT_MS: "120000",
  };
  const onLog = (service: string, line: string) => {
    if (service !== "nats") logs.push(`[${service}] ${line.slice(0, 2000)}`);
    if (process.env.E2E_LOGS) process.stdout.write(`[${service}] ${line}\n`);
  };
  stack = await startStack({
    services: ["registry", "sandbox", "manager", "tool-developer", "executor", "integrator", "gateway"],
    env,
    serviceEnv: { sandbox: sandboxEnv },
    onLog,
  });
  // A second sandbox replica: its own process, the same NATS and prefix, nothing else shared.
  secondReplica = await startStack({
    services: ["sandbox"],
    natsUrl: stack.natsUrl,
    prefix: stack.prefix,
    // One sandbox identity: the registry trusts the first stack's sandbox key (ADR 0125).
    signingKeys: stack.signingKeys,
    env: { ...env, ...sandboxEnv },
    onLog: (service, line) => onLog(`${service}-2`, line),
  });
  gateway = stack.url("gateway");
});

afterAll(async () => {
  await secondReplica?.stop();
  await stack?.stop();
  await gemini?.close();
  await testHost?.close();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

async function ask(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const result = await run(insitu, ["ask", ...args, "--gateway", gateway], {
    cwd: "/",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", NO_COLOR: "1" },
    timeout: 120_000,
  }).then(
    (ok) => ({ code: 0, ...ok }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );
  if (TRANSCRIPTS)
    await appendFile(TRANSCRIPTS, `$ insitu ask ${args.join(" ")}\n${result.stdout}${result.stderr}\n`);
  return result;
}

async function record(taskId: string): Promise<TaskRecord> {
  const found = (await (await fetch(`${gateway}/v1/tasks/${taskId}`)).json()) as TaskRecord;
  if (TRANSCRIPTS)
    await appendFile(TRANSCRIPTS, `GET /v1/tasks/${taskId}\n${JSON.stringify(found, null, 2)}\n\n`);
  return found;
}

function taskIdOf(stdout: string): string {
  const id = /submitted as task (\S+)/.exec(stdout)?.[1];
  if (!id) throw new Error(`no task id in:\n${stdout}\n${logs.slice(-30).join("\n")}`);
  return id;
}

describe("files and images through the gateway", () => {
  it("an image attachment reaches the model as inline data, and the answer comes from its pixels", async () => {
    const { code, stdout, stderr } = await ask(
      "-f",
      fixture("red-square.png"),
      "What colour is the square in the attached picture?",
    );
    expect(stderr).toBe("");
    expect(code, stdout).toBe(0);
    expect(stdout).toContain("attached red-square.png (image/png, 74 B)");
    const task = await record(taskIdOf(stdout));
    expect(task.status).toBe("succeeded");
    expect(task.answer?.final_answer).toBe("red");
    expect(task.attachments).toEqual([
      {
        name: "red-square.png",
        mediaType: "image/png",
        size: 74,
        digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      },
    ]);
    // Through the real SDK the executor's request carried the exact bytes of the file as inlineData.
    const png = seen.executorInline.find((item) => item.mimeType === "image/png");
    expect(png?.bytes.equals(readFileSync(fixture("red-square.png")))).toBe(true);
    // The plan saw the attachment list (name, type, size).
    expect(seen.planPrompts.some((prompt) => prompt.includes("- red-square.png (image/png, 74 B)"))).toBe(
      true,
    );
  });

  it("a PDF attachment is read by a tool in the task workspace", async () => {
    const { code, stdout } = await ask(
      "-f",
      fixture("memo.pdf"),
      "What is the vault code in the attached memo?",
    );
    expect(code, stdout).toBe(0);
    const task = await record(taskIdOf(stdout));
    expect(task.status).toBe("succeeded");
    expect(task.answer?.final_answer).toBe("7391");
    expect(task.toolsUsed).toEqual(["read_pdf_text"]);
    expect(stdout).toMatch(/← read_pdf_text: success/);
    // Gemini reads PDFs too: the attachment also went to the model inline.
    expect(seen.executorInline.some((item) => item.mimeType === "application/pdf")).toBe(true);
  });

  it("bad attachments are refused with clear errors and leave nothing behind", async () => {
    const submit = (body: unknown) =>
      fetch(`${gateway}/v1/tasks`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const pdf = readFileSync(fixture("memo.pdf")).toString("base64");
    const cases = [
      {
        label: "too big",
        attachment: { name: "big.bin", data: Buffer.alloc(10 * 1024 * 1024 + 1, 7).toString("base64") },
        status: 413,
        code: "ATTACHMENT_TOO_LARGE",
      },
      {
        label: "lying media type",
        attachment: { name: "photo.png", mediaType: "image/png", data: pdf },
        status: 415,
        code: "ATTACHMENT_TYPE_MISMATCH",
      },
      {
        label: "traversal",
        attachment: { name: "../../etc/passwd", data: pdf },
        status: 400,
        code: "ATTACHMENT_NAME_INVALID",
      },
      {
        label: "device name",
        attachment: { name: "NUL.txt", data: pdf },
        status: 400,
        code: "ATTACHMENT_NAME_INVALID",
      },
      {
        label: "zero bytes",
        attachment: { name: "empty.txt", data: "" },
        status: 400,
        code: "ATTACHMENT_EMPTY",
      },
    ];
    for (const [index, item] of cases.entries()) {
      const taskId = `bad-attachment-${index}`;
      const response = await submit({ question: "Read this.", taskId, attachments: [item.attachment] });
      const body = (await response.json()) as { error: { code: string; message: string } };
      if (TRANSCRIPTS)
        await appendFile(
          TRANSCRIPTS,
          `POST /v1/tasks (${item.label}) → ${response.status} ${JSON.stringify(body)}\n`,
        );
      expect([item.label, response.status, body.error.code]).toEqual([item.label, item.status, item.code]);
      expect(body.error.message.length).toBeGreaterThan(10);
      expect((await fetch(`${gateway}/v1/tasks/${taskId}`)).status).toBe(404);
    }
    // The same refusal through multipart, with the file name a browser would send.
    const form = new FormData();
    form.append("question", "Read this.");
    form.append(
      "file",
      new Blob([readFileSync(fixture("memo.pdf"))], { type: "application/pdf" }),
      "../memo.pdf",
    );
    const multipart = await fetch(`${gateway}/v1/tasks`, { method: "POST", body: form });
    expect(multipart.status).toBe(400);
    expect(((await multipart.json()) as { error: { code: string } }).error.code).toBe(
      "ATTACHMENT_NAME_INVALID",
    );
    // The CLI names a bad file before sending anything.
    const empty = join(configDir, "empty.csv");
    writeFileSync(empty, "");
    const cli = await ask("-f", empty, "Sum it.");
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toMatch(/ATTACHMENT_EMPTY: attachment 1 \("empty.csv"\) is empty/);
  });

  it("one tool downloads a CSV into the workspace; another, on the other sandbox replica, computes the answer from it", async () => {
    const url = `${testHost.url}/data/towns.csv`;
    const { code, stdout } = await ask(
      `Download the town table at ${url} and give the total population of the towns.csv file.`,
    );
    expect(code, `${stdout}\n${logs.slice(-40).join("\n")}`).toBe(0);
    const task = await record(taskIdOf(stdout));
    expect(task.status).toBe("succeeded");
    // 1200 + 3450 + 780, summed in Deno from the downloaded bytes.
    expect(task.answer?.final_answer).toBe("5430");
    expect(task.toolsUsed).toEqual(["download_file", "sum_csv_column"]);
    expect(testHost.requests.filter((request) => request.path === "/data/towns.csv")).toHaveLength(1);
    // The replica that downloaded was stopped before the second call, which ran on the other one.
    expect(seen.killedReplicaPid).toBeGreaterThan(0);
    const events = (await (await fetch(`${gateway}/v1/tasks/${task.taskId}/events`)).text())
      .split("\n")
      .filter((line) => line.startsWith("data: "))
      .map(
        (line) =>
          JSON.parse(line.slice(6)) as { kind: string; tool?: string; output?: string; outcome?: string },
      );
    const ends = events.filter((event) => event.kind === "tool-call-end");
    expect(ends.map((event) => [event.tool, event.outcome])).toEqual([
      ["download_file", "success"],
      ["sum_csv_column", "success"],
    ]);
    const replicaOf = (output = "") => Number(/insitu-sandbox-(\d+)-/.exec(output)?.[1]);
    expect(replicaOf(ends[0]?.output)).toBe(seen.killedReplicaPid);
    expect(replicaOf(ends[1]?.output)).toBeGreaterThan(0);
    expect(replicaOf(ends[1]?.output)).not.toBe(seen.killedReplicaPid);
    expect(ends[1]?.output).toContain('"sum":5430');
  });
});
