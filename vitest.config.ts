import { defineConfig } from "vitest/config";

// Three kinds of test, each its own project (CONVENTIONS.md, "Tests"):
// unit — beside the code, no network, no subprocess;
// int  — `*.int.test.ts`, real nats-server and/or real Deno, started by the test harness;
// e2e  — whole-system scenarios, security corpus and chaos under test/.
export default defineConfig({
  test: {
    reporters: ["default", "json"],
    outputFile: { json: ".vitest-results.json" },
    projects: [
      {
        test: {
          name: "unit",
          include: ["apps/*/src/**/*.test.ts", "libs/*/src/**/*.test.ts", "services/*/src/**/*.test.ts"],
          exclude: ["**/*.int.test.ts", "**/node_modules/**"],
        },
      },
      {
        test: {
          name: "int",
          include: [
            "apps/*/src/**/*.int.test.ts",
            "libs/*/src/**/*.int.test.ts",
            "services/*/src/**/*.int.test.ts",
          ],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/**/*.test.ts"],
          exclude: ["test/bench/**", "**/node_modules/**"],
          testTimeout: 180_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
