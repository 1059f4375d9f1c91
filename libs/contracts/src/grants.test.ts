import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { AnyContract } from "./define.js";
import { BUS_ROLES, type BusRole, ROLE_GRANTS, relativePermissions } from "./grants.js";
import * as contracts from "./index.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));

/** Every exported contract by its export name. */
const exported = new Map<string, AnyContract>(
  (Object.entries(contracts) as [string, unknown][])
    .filter(([, value]) =>
      ["endpoint", "work-queue", "event"].includes(String((value as { kind?: unknown } | null)?.kind ?? "")),
    )
    .map(([name, value]) => [name, value as AnyContract]),
);

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== "fixtures" && name !== "node_modules") out.push(...sources(path));
    } else if (name.endsWith(".ts") && !name.includes(".test.")) out.push(path);
  }
  return out;
}

/** The contracts a service's own source names (calls, handlers, consumers, events). */
function contractsNamedBy(role: BusRole): string[] {
  const text = sources(join(root, "services", role, "src"))
    .map((file) => readFileSync(file, "utf8"))
    .join("\n");
  return [...exported.keys()].filter((name) => new RegExp(`\\b${name}\\b`).test(text));
}

function granted(role: BusRole): Set<AnyContract> {
  const g = ROLE_GRANTS[role];
  return new Set<AnyContract>([
    ...g.serves,
    ...g.calls,
    ...g.consumes,
    ...g.enqueues,
    ...g.publishes,
    ...g.subscribes,
  ]);
}

describe("bus grants (docs/adr/0120)", () => {
  it("has a grant for every service in services/", () => {
    const services = readdirSync(join(root, "services")).filter((name) =>
      statSync(join(root, "services", name, "src", "main.ts"), { throwIfNoEntry: false })?.isFile(),
    );
    expect(services.sort()).toEqual([...BUS_ROLES].sort());
  });

  it.each(BUS_ROLES.map((role) => [role]))(
    "covers every contract the %s's source names (served, called, consumed or emitted)",
    (role) => {
      const named = contractsNamedBy(role);
      // type-only mentions (a handler's `Payload<typeof X>`) are covered by the contract being served
      const missing = named.filter((name) => !granted(role).has(exported.get(name)!));
      expect(missing, `${role} uses contracts its grant does not list`).toEqual([]);
    },
  );

  it("every endpoint is served by exactly the role its contract names", () => {
    for (const contract of exported.values()) {
      if (contract.kind !== "endpoint" || contract.service === "system") continue;
      const servers = BUS_ROLES.filter((role) => ROLE_GRANTS[role].serves.includes(contract));
      expect(servers, contract.subject).toEqual([contract.service]);
    }
  });

  it("only the registry may write the registry's state, and only callers of registry.register may publish it", () => {
    expect(relativePermissions("executor").publish).not.toContain("registry.register");
    expect(relativePermissions("executor").publish).not.toContain("registry.absorb");
    expect(relativePermissions("executor").publish).toContain("registry.record-usage");
    // the sandbox publishes only its fetch of a registered tool's code by hash (ADR 0160)
    expect(relativePermissions("sandbox").publish).toEqual(["registry.code.get"]);
    // the executor binds tools by manifest and code hash; it never reads their code (ADR 0160)
    expect(relativePermissions("executor").publish).toContain("registry.binding.get");
    expect(relativePermissions("executor").publish).not.toContain("registry.get");
    for (const role of BUS_ROLES) {
      const writes = relativePermissions(role).kvWrites;
      if (role === "registry") expect(writes).toContain("registry");
      else expect(writes, role).not.toContain("registry");
    }
    const registerers = BUS_ROLES.filter((role) =>
      relativePermissions(role).publish.includes("registry.register"),
    );
    expect(registerers.sort()).toEqual(["evolver", "tool-developer"]);
  });

  it("a role subscribes only to what it serves or listens to, never a wildcard of everything", () => {
    for (const role of BUS_ROLES) {
      const { subscribe, publish } = relativePermissions(role);
      for (const subject of [...subscribe, ...publish]) expect(subject, role).not.toMatch(/^>|\.>$/);
    }
    expect(relativePermissions("executor").subscribe).toEqual(["executor.external-tools", "status.executor"]);
  });
});
