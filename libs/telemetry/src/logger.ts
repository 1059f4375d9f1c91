/**
 * Structured JSON-line logging. One line per event on stdout:
 * `{"time","level","service","msg",...fields}`; task and trace ids ride along via `child()`.
 */
export const LogLevel = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LogLevel;

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger whose lines all carry `fields` (e.g. `{ taskId, traceId }`). */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  service: string;
  level?: LogLevel;
  /** Where lines go; stdout by default. Tests pass an array's push. */
  write?: (line: string) => void;
  fields?: LogFields;
}

export function createLogger(options: LoggerOptions): Logger {
  const threshold =
    LogLevel[options.level ?? (process.env.LOG_LEVEL as LogLevel | undefined) ?? "info"] ?? 20;
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const base = { service: options.service, ...options.fields };
  const make = (bound: LogFields): Logger => {
    const emit = (level: LogLevel, message: string, fields?: LogFields): void => {
      if (LogLevel[level] < threshold) return;
      write(safeStringify({ time: new Date().toISOString(), level, ...bound, msg: message, ...fields }));
    };
    return {
      debug: (message, fields) => emit("debug", message, fields),
      info: (message, fields) => emit("info", message, fields),
      warn: (message, fields) => emit("warn", message, fields),
      error: (message, fields) => emit("error", message, fields),
      child: (fields) => make({ ...bound, ...fields }),
    };
  };
  return make(base);
}

function safeStringify(value: Record<string, unknown>): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item instanceof Error) {
      const withCode = item as Error & { code?: unknown };
      return {
        name: item.name,
        message: item.message,
        code: withCode.code,
        stack: item.stack?.split("\n").slice(0, 6),
      };
    }
    if (typeof item === "bigint") return item.toString();
    if (typeof item === "object" && item !== null) {
      if (seen.has(item)) return "[circular]";
      seen.add(item);
    }
    return item;
  });
}
