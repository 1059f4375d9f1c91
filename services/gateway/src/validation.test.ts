import { InsituError } from "@insitu/errors";
import { describe, expect, it } from "vitest";
import { httpStatusFor } from "./errors.js";
import {
  ListToolsQuerySchema,
  SubmitTaskBodySchema,
  TaskIdParamSchema,
  parseInput,
  queryObject,
} from "./validation.js";

function failure(run: () => unknown): InsituError {
  try {
    run();
  } catch (error) {
    if (error instanceof InsituError) return error;
    throw error;
  }
  throw new Error("expected a failure");
}

describe("request validation", () => {
  it("accepts a question with options and a client task id", () => {
    const body = parseInput(
      SubmitTaskBodySchema,
      { question: "  What is 2+2?  ", options: { budgets: { rounds: 3 } }, taskId: "cli-1" },
      "body",
    );
    expect(body).toEqual({ question: "What is 2+2?", options: { budgets: { rounds: 3 } }, taskId: "cli-1" });
  });

  it("names every bad field with its path and answers 400", () => {
    const error = failure(() =>
      parseInput(
        SubmitTaskBodySchema,
        { question: "", options: { budgets: { rounds: 0 } }, extra: 1 },
        "body",
      ),
    );
    expect(error.code).toBe("INVALID_REQUEST");
    expect(httpStatusFor(error)).toBe(400);
    const paths = (error.details.issues as { path: string }[]).map((issue) => issue.path);
    expect(paths).toEqual(expect.arrayContaining(["body.question", "body.options.budgets.rounds", "body"]));
    expect(error.message).toContain("body.question");
  });

  it("refuses a question that is not a string", () => {
    expect(failure(() => parseInput(SubmitTaskBodySchema, { question: 42 }, "body")).code).toBe(
      "INVALID_REQUEST",
    );
  });

  it("checks path params and coerces query numbers", () => {
    expect(failure(() => parseInput(TaskIdParamSchema, { id: "../etc" }, "path")).details.issues).toEqual([
      expect.objectContaining({ path: "path.id" }),
    ]);
    expect(
      parseInput(ListToolsQuerySchema, queryObject(new URLSearchParams("q=csv&limit=5")), "query"),
    ).toEqual({
      q: "csv",
      limit: 5,
    });
    expect(failure(() => parseInput(ListToolsQuerySchema, { limit: "lots" }, "query")).code).toBe(
      "INVALID_REQUEST",
    );
    expect(failure(() => parseInput(ListToolsQuerySchema, { unknown: "x" }, "query")).code).toBe(
      "INVALID_REQUEST",
    );
  });
});

describe("httpStatusFor", () => {
  const error = (code: string, options: { category?: "user" | "system"; retryable?: boolean } = {}) =>
    new InsituError("x", { code, ...options });
  it("maps typed errors to HTTP statuses", () => {
    expect(httpStatusFor(error("NOT_FOUND", { category: "user" }))).toBe(404);
    expect(httpStatusFor(error("PAYLOAD_TOO_LARGE"))).toBe(413);
    expect(httpStatusFor(error("MESSAGE_TOO_DEEP"))).toBe(400);
    expect(httpStatusFor(error("TIMEOUT"))).toBe(504);
    expect(httpStatusFor(error("UNAVAILABLE"))).toBe(503);
    expect(httpStatusFor(error("SOMETHING_ELSE", { category: "user" }))).toBe(400);
    expect(httpStatusFor(error("SOMETHING_ELSE", { retryable: true }))).toBe(503);
    expect(httpStatusFor(error("INTERNAL"))).toBe(500);
  });
});
