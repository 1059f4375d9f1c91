import { setFlagsFromString } from "node:v8";

// Patterns come from model-written schemas and tests and run in our Node services, where one
// catastrophic backtrack would freeze the event loop (`^\d*\d*…x$` blocked it for 26 s on 31
// characters). V8's linear-time engine (the `l` flag) cannot backtrack; it is behind a flag that
// may be set at run time, before the first such RegExp is made.
setFlagsFromString("--enable-experimental-regexp-engine");

/**
 * A RegExp on V8's linear-time engine. Patterns it cannot run in linear time (back-references,
 * lookaround) throw a SyntaxError, so they are refused instead of risked. The engine does not take
 * the `u` flag, so it is dropped.
 */
export function linearRegExp(pattern: string, flags = ""): RegExp {
  return new RegExp(pattern, `${flags.replace(/[ul]/g, "")}l`);
}

/** The same, in the shape ajv's `code.regExp` option expects. */
export const linearRegExpEngine = Object.assign(
  (pattern: string, flags: string) => linearRegExp(pattern, flags),
  {
    code: "linearRegExp",
  },
);
