import type { z } from "zod";

/**
 * The one way to define something that travels on the bus. A contract keeps the schema, the
 * subject, the message type and its major version together, so publisher and handler import the
 * same object and nobody spells a subject string anywhere else.
 *
 * Subjects and stream names here are *relative*: the bus prefixes them (default `insitu`), which is
 * how tests and tenants get isolated subject spaces.
 */
export interface MessageContract<Schema extends z.ZodType = z.ZodType> {
  /** Dotted, lowercase message type, e.g. `sandbox.exec.request`. */
  readonly type: string;
  /** Major version; a payload carrying another major is refused with UNSUPPORTED_VERSION. */
  readonly version: number;
  readonly schema: Schema;
  readonly description: string;
}

/** A request/reply endpoint served on @nats-io/services (queue group per service). */
export interface EndpointContract<
  Request extends z.ZodType = z.ZodType,
  Response extends z.ZodType = z.ZodType,
> {
  readonly kind: "endpoint";
  /** Service name in `$SRV` discovery. */
  readonly service: string;
  /** Endpoint name within the service. */
  readonly name: string;
  /** Relative subject, e.g. `sandbox.exec`. */
  readonly subject: string;
  readonly request: MessageContract<Request>;
  readonly response: MessageContract<Response>;
}

/** A durable JetStream work queue: one stream, one subject, consumers share the work. */
export interface WorkQueueContract<Schema extends z.ZodType = z.ZodType> {
  readonly kind: "work-queue";
  /** Stream name (relative; uppercase after prefixing). */
  readonly stream: string;
  /** Relative subject the work is published on. */
  readonly subject: string;
  readonly message: MessageContract<Schema>;
}

/** A fire-and-forget event (core NATS or a JetStream stream, per the definition). */
export interface EventContract<Schema extends z.ZodType = z.ZodType> {
  readonly kind: "event";
  /** Relative subject; may end in a token filled per publish (e.g. task id) — see `subjectFor`. */
  readonly subject: string;
  /**
   * When set, events are kept in this JetStream stream (limits retention) so a late subscriber can
   * replay them from the start; otherwise they are core NATS fire-and-forget.
   */
  readonly stream?: string;
  readonly message: MessageContract<Schema>;
}

export type AnyContract = EndpointContract | WorkQueueContract | EventContract;

const TYPE_PATTERN = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/;
const SUBJECT_PATTERN = /^[a-z][a-z0-9-]*(\.[a-z0-9*>][a-z0-9-]*)*$/;

export function defineMessage<Schema extends z.ZodType>(definition: {
  type: string;
  version: number;
  schema: Schema;
  description: string;
}): MessageContract<Schema> {
  if (!TYPE_PATTERN.test(definition.type)) throw new TypeError(`bad message type ${definition.type}`);
  if (!Number.isInteger(definition.version) || definition.version < 1) {
    throw new TypeError(`bad version for ${definition.type}`);
  }
  registry.messages.set(`${definition.type}@${definition.version}`, definition);
  return Object.freeze({ ...definition });
}

export function defineEndpoint<Request extends z.ZodType, Response extends z.ZodType>(definition: {
  service: string;
  name: string;
  subject: string;
  version: number;
  description: string;
  request: Request;
  response: Response;
}): EndpointContract<Request, Response> {
  checkSubject(definition.subject);
  const contract: EndpointContract<Request, Response> = Object.freeze({
    kind: "endpoint",
    service: definition.service,
    name: definition.name,
    subject: definition.subject,
    request: defineMessage({
      type: `${definition.subject}.request`,
      version: definition.version,
      schema: definition.request,
      description: definition.description,
    }),
    response: defineMessage({
      type: `${definition.subject}.response`,
      version: definition.version,
      schema: definition.response,
      description: `Reply to ${definition.subject}`,
    }),
  });
  registry.contracts.push(contract);
  return contract;
}

export function defineWorkQueue<Schema extends z.ZodType>(definition: {
  stream: string;
  subject: string;
  version: number;
  description: string;
  schema: Schema;
}): WorkQueueContract<Schema> {
  checkSubject(definition.subject);
  const contract: WorkQueueContract<Schema> = Object.freeze({
    kind: "work-queue",
    stream: definition.stream,
    subject: definition.subject,
    message: defineMessage({
      type: definition.subject,
      version: definition.version,
      schema: definition.schema,
      description: definition.description,
    }),
  });
  registry.contracts.push(contract);
  return contract;
}

export function defineEvent<Schema extends z.ZodType>(definition: {
  subject: string;
  stream?: string;
  type: string;
  version: number;
  description: string;
  schema: Schema;
}): EventContract<Schema> {
  checkSubject(definition.subject);
  const contract: EventContract<Schema> = Object.freeze({
    kind: "event",
    subject: definition.subject,
    ...(definition.stream === undefined ? {} : { stream: definition.stream }),
    message: defineMessage({
      type: definition.type,
      version: definition.version,
      schema: definition.schema,
      description: definition.description,
    }),
  });
  registry.contracts.push(contract);
  return contract;
}

function checkSubject(subject: string): void {
  if (!SUBJECT_PATTERN.test(subject)) throw new TypeError(`bad relative subject ${subject}`);
}

/** Every contract defined so far; the JSON Schema generator walks it. */
export const registry = {
  messages: new Map<string, { type: string; version: number; schema: z.ZodType; description: string }>(),
  contracts: [] as AnyContract[],
};

/** What a handler receives: the payload after parsing (defaults applied). */
export type Payload<C> =
  C extends EndpointContract<infer Req, z.ZodType>
    ? z.output<Req>
    : C extends WorkQueueContract<infer S>
      ? z.output<S>
      : C extends EventContract<infer S>
        ? z.output<S>
        : never;
/** What a sender passes: the payload before parsing (fields with defaults may be omitted). */
export type PayloadInput<C> =
  C extends EndpointContract<infer Req, z.ZodType>
    ? z.input<Req>
    : C extends WorkQueueContract<infer S>
      ? z.input<S>
      : C extends EventContract<infer S>
        ? z.input<S>
        : never;
/** What a caller receives back: the reply after parsing. */
export type Reply<C> = C extends EndpointContract<z.ZodType, infer Res> ? z.output<Res> : never;
/** What a handler returns: the reply before parsing. */
export type ReplyInput<C> = C extends EndpointContract<z.ZodType, infer Res> ? z.input<Res> : never;
