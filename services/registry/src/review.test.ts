import type { Bus } from "@insitu/bus";
import { createMemoryBus } from "@insitu/bus/testing";
import {
  type Payload,
  RegistryAbsorb,
  RegistryGet,
  RegistryHistory,
  RegistryRegister,
  RegistryReviewDecide,
  RegistryReviewList,
  RegistrySearch,
} from "@insitu/contracts";
import { createLogger } from "@insitu/telemetry";
import { type ApprovalPolicyInput, parseApprovalPolicy } from "@insitu/tool-kit";
import { afterEach, describe, expect, it } from "vitest";
import type { Registry } from "./registry.js";
import { registerRequest, serveRegistry, testTrust, withTestReport, rejection } from "./testing.js";

// Unit tests on the in-memory bus from @insitu/bus/testing (a labelled fake of NATS KV and
// request-reply); the whole flow runs on a real stack in test/security/approval-policy.test.ts.
const logger = createLogger({ service: "registry-review-test", level: "error" });

async function start(policy: ApprovalPolicyInput = {}) {
  const bus = createMemoryBus();
  const parsed = parseApprovalPolicy(policy);
  if (!parsed.ok) throw new Error(parsed.issues.join("; "));
  const registry = await serveRegistry(bus, { logger, approvalPolicy: parsed.policy, trust: testTrust });
  return { bus, registry };
}

/** A register request whose manifest declares the given permissions. */
function withPermissions(
  taskId: string,
  name: string,
  permissions: { network?: string[]; secrets?: string[] },
): Payload<typeof RegistryRegister> {
  const request = registerRequest(taskId, name, "Looks up the weather of a city from a public API.");
  request.manifest = {
    ...request.manifest,
    permissions: { network: permissions.network ?? [], secrets: permissions.secrets ?? [] },
  };
  // The manifest changed: the sandbox's signed report must cover the edited version (ADR 0125).
  return withTestReport(request);
}

describe("operator review in the registry", () => {
  let registry: Registry | undefined;
  afterEach(() => registry?.stop());

  it("holds a version asking for a reviewed secret until approved, then serves it, with the decision in its history", async () => {
    const started = await start();
    registry = started.registry;
    const bus: Bus = started.bus;
    const reply = await bus.request(
      RegistryRegister,
      withPermissions("task-a", "fetch_weather", {
        network: ["api.weather.example"],
        secrets: ["WEATHER_KEY"],
      }),
    );
    expect(reply.status).toBe("pending-review");

    // Not served: neither by name to its own task nor by search.
    await expect(
      bus.request(RegistryGet, { by: "name", name: "fetch_weather", taskId: "task-a" }),
    ).rejects.toThrow(/not found/i);
    const search = await bus.request(RegistrySearch, { query: "weather of a city", taskId: "task-a" });
    expect(search.hits.map((hit) => hit.name)).not.toContain("fetch_weather");

    // The reviewer's list shows it with its permissions and the requesting task.
    const pending = await bus.request(RegistryReviewList, {});
    expect(pending.total).toBe(1);
    expect(pending.versions[0]).toMatchObject({
      hash: reply.hash,
      status: "pending-review",
      review: {
        state: "pending",
        requestedByTask: "task-a",
        permissions: [
          { permission: "net:api.weather.example", decision: "auto", rule: "default" },
          { permission: "secret:WEATHER_KEY", decision: "review", rule: "default" },
        ],
        decisions: [],
      },
    });

    const decided = await bus.request(RegistryReviewDecide, {
      hash: reply.hash,
      decision: "approve",
      by: "ops-alice",
      reason: "key is read-only",
    });
    expect(decided.status).toBe("task-private");
    const served = await bus.request(RegistryGet, { by: "name", name: "fetch_weather", taskId: "task-a" });
    expect(served.hash).toBe(reply.hash);
    expect(served.review?.state).toBe("approved");
    const history = await bus.request(RegistryHistory, { name: "fetch_weather" });
    expect(history.versions[0]?.review?.decisions).toEqual([
      { decision: "approve", by: "ops-alice", at: expect.any(String), reason: "key is read-only" },
    ]);
    expect((await bus.request(RegistryReviewList, {})).total).toBe(0);

    // The same code rebuilt by another task is admitted at once: the decision holds for the content.
    const again = await bus.request(
      RegistryRegister,
      withPermissions("task-b", "fetch_weather", {
        network: ["api.weather.example"],
        secrets: ["WEATHER_KEY"],
      }),
    );
    expect(again.hash).toBe(reply.hash);
    expect(again.status).toBe("task-private");
  });

  it("a version the operator denies is rejected and never served; deciding twice the same way is a no-op", async () => {
    const started = await start({ defaults: { net: "review" } });
    registry = started.registry;
    const { bus } = started;
    const reply = await bus.request(
      RegistryRegister,
      withPermissions("task-a", "fetch_weather", { network: ["x.example"] }),
    );
    expect(reply.status).toBe("pending-review");
    const denied = { hash: reply.hash, decision: "deny" as const, by: "ops-bob", reason: "unknown host" };
    expect((await bus.request(RegistryReviewDecide, denied)).status).toBe("rejected");
    expect((await bus.request(RegistryReviewDecide, denied)).review?.decisions).toHaveLength(1);
    await expect(
      bus.request(RegistryGet, { by: "name", name: "fetch_weather", taskId: "task-a" }),
    ).rejects.toThrow(/not found/i);
    const rejected = await bus.request(RegistryReviewList, { state: "rejected" });
    expect(rejected.versions.map((version) => version.hash)).toEqual([reply.hash]);
  });

  it("the policy's deny rejects at registration, and no review can admit it", async () => {
    const started = await start({ rules: [{ permission: "secret:ROOT_*", decision: "deny" }] });
    registry = started.registry;
    const { bus } = started;
    const reply = await bus.request(
      RegistryRegister,
      withPermissions("task-a", "fetch_weather", { secrets: ["ROOT_TOKEN"] }),
    );
    expect(reply.status).toBe("rejected");
    const record = await bus.request(RegistryGet, { by: "hash", hash: reply.hash });
    expect(record.review?.decisions[0]).toMatchObject({ decision: "deny", by: "policy" });
    expect(record.review?.decisions[0]?.reason).toContain("secret:ROOT_TOKEN");
    const refused = await rejection(
      bus.request(RegistryReviewDecide, {
        hash: reply.hash,
        decision: "approve",
        by: "ops",
        reason: "please",
      }),
    );
    expect(refused.code).toBe("REVIEW_CONFLICT");
  });

  it("a version the policy admits has no review; deciding on it or on an unknown hash is a typed error", async () => {
    const started = await start();
    registry = started.registry;
    const { bus } = started;
    const reply = await bus.request(
      RegistryRegister,
      withPermissions("task-a", "fetch_weather", { network: ["a.example"] }),
    );
    expect(reply.status).toBe("task-private");
    expect((await bus.request(RegistryGet, { by: "hash", hash: reply.hash })).review).toBeUndefined();
    const conflict = await rejection(
      bus.request(RegistryReviewDecide, { hash: reply.hash, decision: "approve", by: "ops", reason: "x" }),
    );
    expect(conflict.code).toBe("REVIEW_CONFLICT");
    const missing = await rejection(
      bus.request(RegistryReviewDecide, {
        hash: `sha256:${"0".repeat(64)}`,
        decision: "approve",
        by: "ops",
        reason: "x",
      }),
    );
    expect(missing.code).toBe("NOT_FOUND");
  });

  it("an absorb cannot put a version waiting for review into the library", async () => {
    const started = await start();
    registry = started.registry;
    const { bus } = started;
    const reply = await bus.request(
      RegistryRegister,
      withPermissions("task-a", "fetch_weather", { secrets: ["WEATHER_KEY"] }),
    );
    const refused = await rejection(
      bus.request(RegistryAbsorb, {
        expectedSnapshot: 0,
        changes: [{ op: "add", hash: reply.hash }],
        reason: "evolver",
      }),
    );
    expect(refused.code).toBe("INVALID_LIBRARY_CHANGE");
    expect(refused.message).toContain("pending-review");
    await bus.request(RegistryReviewDecide, {
      hash: reply.hash,
      decision: "approve",
      by: "ops",
      reason: "ok",
    });
    const snapshot = await bus.request(RegistryAbsorb, {
      expectedSnapshot: 0,
      changes: [{ op: "add", hash: reply.hash }],
      reason: "evolver",
    });
    expect(snapshot.size).toBe(1);
  });
});
