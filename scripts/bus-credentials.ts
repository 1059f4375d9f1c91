#!/usr/bin/env -S npx tsx
/**
 * Bus credentials for docker-compose and Kubernetes (docs/adr/0120).
 *
 *   npx tsx scripts/bus-credentials.ts [--prefix insitu] [--out .data/bus]
 *
 * Reuses `.data/bus-credentials.json` (the file `insitu up` keeps; generated when missing, mode
 * 0600) and writes, into --out (mode 0700, every file 0600):
 *   nats-auth.conf      the nats-server `authorization` block: one user per role with the
 *                       permissions derived from libs/contracts/src/grants.ts, plus insitu-admin
 *   <user>.password     one file per user (compose mounts them as secrets: NATS_PASSWORD_FILE)
 *   k8s-secrets.yaml    Secret insitu-nats-auth (key auth.conf, mounted by infra/k8s/base/nats.yaml)
 *                       and one Secret insitu-bus-<role> per role (NATS_USER, NATS_PASSWORD)
 * The permissions name the subject prefix, so --prefix must be the stack's NATS_PREFIX.
 */
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { authorizationConfig, busUsers, loadOrCreateBusCredentials } from "@insitu/bus";
import { BUS_ROLES } from "@insitu/contracts";

const root = resolve(new URL("..", import.meta.url).pathname);
const { values } = parseArgs({
  options: {
    prefix: { type: "string", default: "insitu" },
    out: { type: "string", default: join(root, ".data", "bus") },
    credentials: { type: "string", default: join(root, ".data", "bus-credentials.json") },
  },
});
const prefix = values.prefix!;
const out = resolve(values.out!);
if (!/^[a-z][a-z0-9-]*$/.test(prefix)) {
  process.stderr.write(`--prefix must be a NATS_PREFIX (lowercase, digits, '-'), got "${prefix}"\n`);
  process.exit(2);
}

const credentials = await loadOrCreateBusCredentials(resolve(values.credentials!));
const users = busUsers(credentials, prefix);
await mkdir(out, { recursive: true, mode: 0o700 });
await chmod(out, 0o700);

const write = async (name: string, text: string): Promise<void> => {
  const path = join(out, name);
  await writeFile(path, text, { mode: 0o600 });
  await chmod(path, 0o600);
};

const authConf = authorizationConfig(users);
await write("nats-auth.conf", authConf);
for (const { user, password } of users) await write(`${user}.password`, `${password}\n`);

const b64 = (text: string) => Buffer.from(text).toString("base64");
const secrets = [
  {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "insitu-nats-auth", labels: { "app.kubernetes.io/name": "nats" } },
    type: "Opaque",
    data: { "auth.conf": b64(authConf) },
  },
  ...BUS_ROLES.map((role) => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: `insitu-bus-${role}`, labels: { "app.kubernetes.io/name": role } },
    type: "Opaque",
    data: { NATS_USER: b64(role), NATS_PASSWORD: b64(credentials[role]!) },
  })),
];
// JSON is YAML: one document per Secret.
await write("k8s-secrets.yaml", `${secrets.map((secret) => JSON.stringify(secret, null, 2)).join("\n---\n")}\n`);

process.stdout.write(
  [
    `Bus credentials for prefix "${prefix}" in ${out} (users: ${users.map((user) => user.user).join(", ")}).`,
    "  docker compose: `docker compose up` reads them from there (see docker-compose.yml).",
    `  Kubernetes:     kubectl apply -n <namespace> -f ${join(out, "k8s-secrets.yaml")}`,
    "",
  ].join("\n"),
);
