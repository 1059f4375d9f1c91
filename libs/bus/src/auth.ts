import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { ADMIN_USER, BUS_ROLES, type BusRole, relativePermissions } from "@insitu/contracts";
import { ErrorCategory, ErrorCode, InsituError } from "@insitu/errors";
import { Naming } from "./naming.js";

/**
 * Bus authentication and authorization (issue 11 point 3, docs/adr/0120): one password user per
 * role (plus the operator's `insitu-admin`), each with nats-server permissions derived from the
 * role's grant in `@insitu/contracts` (grants.ts). Passwords are random 32-byte secrets.
 */

/** nats-server `permissions` of one user. */
export interface NatsPermissions {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
  /** Publishing to the reply subject of a request this user received (ADR 0172). */
  allow_responses?: { max: number; expires: string };
}

/**
 * A responder may answer each request it received, as often as it needs (a request answered in
 * parts, a `$SRV` ping), for an hour: no `_INBOX.>` publish grant (ADR 0172). nats-server reads
 * a negative `max` as "no count limit" (`0` would mean its default, one reply).
 */
export const RESPONSE_PERMISSION = { max: -1, expires: "1h" } as const;

export interface BusUser {
  user: string;
  password: string;
  /** Undefined: every subject (the admin user). */
  permissions?: NatsPermissions;
}

/** User name → password, as kept in `<data dir>/bus-credentials.json` and the k8s Secret. */
export type BusCredentials = Record<string, string>;

/** Every user the stack needs: the admin and one per role. */
export const BUS_USERS: readonly string[] = [ADMIN_USER, ...BUS_ROLES];

export function generatePassword(): string {
  return randomBytes(32).toString("base64url");
}

export function generateBusCredentials(): BusCredentials {
  return Object.fromEntries(BUS_USERS.map((user) => [user, generatePassword()]));
}

/** The inbox prefix of a user: replies to it land under `_INBOX.<user>.`, which only it may read. */
export function inboxPrefixFor(user: string): string {
  return `_INBOX.${user.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

/**
 * The nats-server permissions of a role under a subject prefix. Precise: the contract subjects
 * (publish what it calls/enqueues/emits, subscribe what it serves/listens to), the KV buckets and
 * object stores it writes, the dead letters of the queues it consumes, the acks of its own
 * consumers, its own reply inbox, and exactly the JetStream API subjects its grant needs
 * (`jetStreamApi`, ADR 0171). Replies go through `allow_responses` (ADR 0172). Still coarse:
 * `$SRV.>` discovery, the shared payload store and the quarantine stream (every role).
 */
export function rolePermissions(role: BusRole, prefix: string): NatsPermissions {
  const naming = new Naming(prefix);
  const relative = relativePermissions(role);
  const publish = [
    ...relative.publish.map((subject) => naming.subject(subject)),
    ...relative.consumed.map((subject) => naming.deadLetterSubject(subject)),
    ...relative.consumedStreams.map((stream) => `$JS.ACK.${naming.stream(stream)}.>`),
    ...relative.kvWrites.map((bucket) => `$KV.${naming.bucket(bucket)}.>`),
    ...[...relative.objectWrites, PAYLOAD_BUCKET].map((bucket) => `$O.${naming.bucket(bucket)}.>`),
    naming.subject("quarantine.>"),
    ...jetStreamApi(role, prefix),
  ];
  const subscribe = [
    ...relative.subscribe.map((subject) => naming.subject(subject)),
    `${inboxPrefixFor(role)}.>`,
    "$SRV.>",
  ];
  return {
    publish: { allow: unique(publish) },
    subscribe: { allow: unique(subscribe) },
    allow_responses: { ...RESPONSE_PERMISSION },
  };
}

/** The bus's own object store of large payloads (bus-offload.ts), which every role writes and reads. */
const PAYLOAD_BUCKET = "payloads";
const API = "$JS.API";

/** Open (info, create) a stream: every stream a role touches is created by whoever comes first. */
const openStream = (stream: string) => [`${API}.STREAM.INFO.${stream}`, `${API}.STREAM.CREATE.${stream}`];

/** Read a stream through ephemeral ordered consumers (KV keys/watch, object reads, event replay) and direct gets. */
const readStream = (stream: string) => [
  ...openStream(stream),
  `${API}.CONSUMER.CREATE.${stream}.>`,
  `${API}.CONSUMER.INFO.${stream}.*`,
  `${API}.CONSUMER.MSG.NEXT.${stream}.*`,
  `${API}.CONSUMER.DELETE.${stream}.*`,
  `${API}.STREAM.MSG.GET.${stream}`,
  `${API}.DIRECT.GET.${stream}`,
  `${API}.DIRECT.GET.${stream}.>`,
];

/**
 * The `$JS.API` subjects a role's grant needs, nothing more (ADR 0171):
 * - account info (every JetStream client's first call);
 * - work queues it consumes: open the stream, create/update, look up and pull from its one
 *   durable (named after the stream) — never delete it, purge or update the stream;
 * - work queues it enqueues into and durable events it emits: open the stream;
 * - durable events it replays: open and read through ephemeral consumers;
 * - KV buckets and object stores it writes or only reads: open and read (the `$KV`/`$O`
 *   publishes that write are granted only for written ones); object stores it writes may also
 *   be purged (an object's delete or replacement purges its chunks);
 * - the dead-letter stream (if it consumes) and the quarantine stream: open.
 * Updating or deleting a stream, listing or finding streams, and purging a work queue are the
 * admin's (`insitu-admin`, the CLI and `insitu up`).
 */
export function jetStreamApi(role: BusRole, prefix: string): string[] {
  const naming = new Naming(prefix);
  const relative = relativePermissions(role);
  const kv = (bucket: string) => `KV_${naming.bucket(bucket)}`;
  const obj = (bucket: string) => `OBJ_${naming.bucket(bucket)}`;
  const consumed = relative.consumedStreams.map((stream) => naming.stream(stream));
  const writtenObjects = [...relative.objectWrites, PAYLOAD_BUCKET].map(obj);
  return unique([
    `${API}.INFO`,
    ...consumed.flatMap((stream) => [
      ...openStream(stream),
      `${API}.CONSUMER.CREATE.${stream}.${stream}`,
      `${API}.CONSUMER.CREATE.${stream}.${stream}.>`,
      `${API}.CONSUMER.DURABLE.CREATE.${stream}.${stream}`,
      `${API}.CONSUMER.INFO.${stream}.${stream}`,
      `${API}.CONSUMER.MSG.NEXT.${stream}.${stream}`,
    ]),
    ...[...relative.enqueuedStreams, ...relative.eventStreamsWritten].flatMap((stream) =>
      openStream(naming.stream(stream)),
    ),
    ...relative.eventStreamsRead.flatMap((stream) => readStream(naming.stream(stream))),
    ...[...relative.kvWrites, ...relative.kvReads].map(kv).flatMap(readStream),
    ...writtenObjects.flatMap((stream) => [...readStream(stream), `${API}.STREAM.PURGE.${stream}`]),
    ...(consumed.length > 0 ? openStream(naming.deadLetterStream()) : []),
    ...openStream(naming.stream("quarantine")),
  ]);
}

/** The users of a stack with these credentials under this prefix (admin unrestricted). */
export function busUsers(credentials: BusCredentials, prefix: string): BusUser[] {
  return BUS_USERS.map((user) => {
    const password = credentials[user];
    if (!password) {
      throw new InsituError(`bus credentials have no password for ${user}`, {
        code: ErrorCode.invalidConfig,
        category: ErrorCategory.user,
        details: { user, hint: "regenerate them: npx tsx scripts/bus-credentials.ts" },
      });
    }
    return user === ADMIN_USER
      ? { user, password }
      : { user, password, permissions: rolePermissions(user as BusRole, prefix) };
  });
}

/** The `authorization { users = [...] }` block of a nats-server config (JSON is valid conf syntax). */
export function authorizationConfig(users: readonly BusUser[]): string {
  return `${JSON.stringify({ authorization: { users } }, null, 2)}\n`;
}

/**
 * The stack's credentials kept in `path` (mode 0600): read when the file exists and names every
 * user, generated and written otherwise. `insitu up` calls this once per data dir.
 */
export async function loadOrCreateBusCredentials(path: string): Promise<BusCredentials> {
  const text = await readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw error;
  });
  if (text !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (
      parsed &&
      typeof parsed === "object" &&
      BUS_USERS.every((user) => typeof (parsed as Record<string, unknown>)[user] === "string")
    ) {
      await chmod(path, 0o600);
      return parsed as BusCredentials;
    }
    throw new InsituError(
      `${path} is not a bus credentials file (user → password for ${BUS_USERS.join(", ")})`,
      {
        code: ErrorCode.invalidConfig,
        category: ErrorCategory.user,
        details: { path, hint: "delete it to have new credentials generated" },
      },
    );
  }
  const credentials = generateBusCredentials();
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
  return credentials;
}

/** `nats://user:pass@host:port` (each server of a comma-separated list). */
export function urlWithCredentials(url: string, user: string, password: string): string {
  return url
    .split(",")
    .map((server) => {
      const parsed = new URL(server.trim());
      parsed.username = encodeURIComponent(user);
      parsed.password = encodeURIComponent(password);
      return parsed.toString().replace(/\/$/, "");
    })
    .join(",");
}

/** Splits credentials out of a server URL list (the first server carrying some wins). */
export function splitUrlCredentials(url: string): { servers: string[]; user?: string; password?: string } {
  let user: string | undefined;
  let password: string | undefined;
  const servers = url.split(",").map((server) => {
    const trimmed = server.trim();
    if (!trimmed.includes("@")) return trimmed;
    let parsed: URL;
    try {
      parsed = new URL(trimmed);
    } catch {
      return trimmed;
    }
    if (parsed.username && user === undefined) {
      user = decodeURIComponent(parsed.username);
      password = decodeURIComponent(parsed.password);
    }
    parsed.username = "";
    parsed.password = "";
    return parsed.toString().replace(/\/$/, "");
  });
  return { servers, ...(user === undefined ? {} : { user, password: password ?? "" }) };
}

/**
 * nats.js connect options for a URL that may carry `user:pass@` (else `NATS_USER` /
 * `NATS_PASSWORD`): the servers without credentials, the user, and that user's inbox prefix.
 */
export function natsConnectOptions(
  url: string,
  explicit: { user?: string | undefined; password?: string | undefined } = {},
  env: NodeJS.ProcessEnv = process.env,
): { servers: string[]; user?: string; pass?: string; inboxPrefix?: string } {
  const { servers, ...fromUrl } = splitUrlCredentials(url);
  const user = explicit.user ?? fromUrl.user ?? (env.NATS_USER || undefined);
  if (user === undefined) return { servers };
  const pass = explicit.password ?? fromUrl.password ?? env.NATS_PASSWORD ?? "";
  return { servers, user, pass, inboxPrefix: inboxPrefixFor(user) };
}

/** A URL safe to print or log: credentials replaced by `***`. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/,]*@/g, "//***@");
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
