// The fixed entry module of every sandboxed call (never tool code: a literal import in an entry
// module reads files with no permission check). It reads one job from stdin, imports the tool
// from a `data:` URL, runs it once, writes one result frame and exits.
//
// The result frame travels on stdout, which the tool can write too, so it is marked with a
// per-call nonce the tool never sees: the nonce arrives on stdin (read to the end and closed
// before the tool is imported) and lives only in this module's scope. Everything the frame is
// built with is captured before the tool runs, so a tool that patches globals (JSON, TextEncoder,
// Deno.stdout …) cannot observe or forge it.

const ReflectApply = Reflect.apply;
const jsonStringify = JSON.stringify;
const jsonParse = JSON.parse;
const encoder = new TextEncoder();
const encode = TextEncoder.prototype.encode;
const decoder = new TextDecoder();
const decode = TextDecoder.prototype.decode;
// Never `subarray`/`slice` on the frame: they build their result through the array's species
// (`constructor[Symbol.species]`), which a tool can replace with a subclass that sees — and
// rewrites in place — the frame's backing buffer. Views are made with the captured constructor
// over the captured buffer getter, which consult nothing a tool can patch.
const typedArrayBuffer = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype),
  "buffer",
).get;
const typedArrayByteOffset = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype),
  "byteOffset",
).get;
const ReflectConstruct = Reflect.construct;
const typedArraySet = Uint8Array.prototype.set;
const stdout = Deno.stdout;
const writeSync = stdout.writeSync;
const stderr = Deno.stderr;
const stderrWriteSync = stderr.writeSync;
const exit = Deno.exit;
const envSet = Deno.env.set;
const envObject = Deno.env;
const StringCtor = String;
const ObjectHasOwn = Object.hasOwn;
const Uint8ArrayCtor = Uint8Array;
const addEventListener = globalThis.addEventListener;
// TypedArray.prototype.length is a configurable getter a tool could replace (to read the frame,
// nonce included, or to make it look empty); read lengths through the original getter.
const typedArrayLength = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype),
  "length",
).get;
function lengthOf(bytes) {
  return ReflectApply(typedArrayLength, bytes, []);
}

function bytesOf(text) {
  return ReflectApply(encode, encoder, [text]);
}

function writeAll(bytes, stream = stdout, write = writeSync) {
  let offset = 0;
  const total = lengthOf(bytes);
  const buffer = ReflectApply(typedArrayBuffer, bytes, []);
  const base = ReflectApply(typedArrayByteOffset, bytes, []);
  while (offset < total) {
    const view = ReflectConstruct(Uint8ArrayCtor, [buffer, base + offset, total - offset]);
    offset += ReflectApply(write, stream, [view]);
  }
}

// What the egress fetch below is built from, captured while the process waits for its job (before
// any tool code, as everything above): Deno loads fetch and its classes lazily on first touch, which
// cost a warm call ~15–35 ms on a loaded machine when it happened after the job arrived (ADR 0140).
const pristineFetch = globalThis.fetch;
const RequestCtor = Request;
const ResponseCtor = Response;
const HeadersCtor = Headers;
const URLCtor = URL;
const TypeErrorCtor = TypeError;
const ErrorCtor = Error;
const NotCapable = Deno.errors.NotCapable;
const defineProperty = Object.defineProperty;
const decodeComponent = decodeURIComponent;

async function readJob() {
  const chunks = [];
  let total = 0;
  for await (const chunk of Deno.stdin.readable) {
    chunks.push(chunk);
    total += chunk.length;
  }
  const all = new Uint8ArrayCtor(total);
  let offset = 0;
  for (const chunk of chunks) {
    ReflectApply(typedArraySet, all, [chunk, offset]);
    offset += chunk.length;
  }
  try {
    Deno.stdin.close();
  } catch {
    // already closed by reading to the end
  }
  return jsonParse(ReflectApply(decode, decoder, [all]));
}

function describe(error) {
  let name = "Error";
  let message = "";
  let stack = "";
  let cause = "";
  try {
    if (error !== null && (typeof error === "object" || typeof error === "function")) {
      name = StringCtor(error.name ?? "Error");
      message = StringCtor(error.message ?? "");
      stack = typeof error.stack === "string" ? error.stack : "";
      if (error.cause !== undefined && error.cause !== null) {
        cause = StringCtor(error.cause?.message ?? error.cause);
      }
    } else {
      // A thrown primitive says what it was: `throw ""` must not read as an empty message.
      const kind = error === null ? "null" : typeof error;
      let shown = "";
      if (kind === "string") shown = ` ${jsonStringify(error)}`;
      else if (kind === "number" || kind === "boolean" || kind === "bigint" || kind === "symbol")
        shown = ` ${StringCtor(error)}${kind === "bigint" ? "n" : ""}`;
      message =
        kind === "null" || kind === "undefined"
          ? `the tool threw ${kind}`
          : `the tool threw the ${kind}${shown}`;
    }
  } catch {
    message = "the tool threw a value that cannot be described";
  }
  return { name, message, stack, cause };
}

// Deno opens its module caches and the TypeScript transpiler on the first import: done here, with
// a constant module of the runner's own, while the process waits for its job — not after (ADR 0140).
await import(`data:application/typescript;base64,${btoa("export const ready: number = 1;\n")}`);
// Ready: the first bytes this process writes on stdout, before any tool code can run. The host
// strips them and prefers started processes when it hands out a job.
writeAll(bytesOf("\u001eready\n"));

const job = await readJob();
const framePrefix = bytesOf(`\u001e${job.nonce}:`);
// The end of the call's stderr, written (synchronously, so every earlier print is already in the
// pipe) just before the result frame: the host answers once it holds this mark and the whole frame,
// without waiting for the process to exit (ADR 0140). Nonce-marked like the frame, so a tool cannot
// cut its own logs short; if it closed stderr the mark is missing and the host waits for the exit.
const stderrMark = bytesOf(`\u001e${job.nonce}.\n`);
const maxResultBytes = job.maxResultBytes;
const moduleUrl = job.moduleUrl;
const input = job.input;
let written = false;

function emit(body) {
  if (written) return;
  written = true;
  const bodyBytes = bytesOf(body);
  const bodyLength = lengthOf(bodyBytes);
  const header = bytesOf(`${bodyLength}:`);
  const prefixLength = lengthOf(framePrefix);
  const headerLength = lengthOf(header);
  const frame = new Uint8ArrayCtor(prefixLength + headerLength + bodyLength + 1);
  ReflectApply(typedArraySet, frame, [framePrefix, 0]);
  ReflectApply(typedArraySet, frame, [header, prefixLength]);
  ReflectApply(typedArraySet, frame, [bodyBytes, prefixLength + headerLength]);
  frame[prefixLength + headerLength + bodyLength] = 10;
  try {
    writeAll(stderrMark, stderr, stderrWriteSync);
  } catch {
    // stderr closed by the tool: no mark, the host reads the result at the exit instead.
  }
  writeAll(frame);
}

function emitError(kind, error) {
  const facts = describe(error);
  emit(
    `{"k":${jsonStringify(kind)},"name":${jsonStringify(facts.name)},"message":${jsonStringify(facts.message)},"stack":${jsonStringify(facts.stack)},"cause":${jsonStringify(facts.cause)}}`,
  );
  exit(0);
}

// Secrets arrive on stdin, not in the process environment (no /proc/<pid>/environ exposure); only
// names granted by --allow-env can be set.
for (const name in job.env) {
  if (ObjectHasOwn(job.env, name)) ReflectApply(envSet, envObject, [name, job.env[name]]);
}
job.env = undefined;
job.nonce = undefined;

// All network traffic goes through the sandbox's egress proxy: the process may reach nothing but
// the proxy (--allow-net=<proxy>), so this fetch sends each request there with the call's token and
// the target URL, and the proxy checks, resolves and dials. Nothing here is a security boundary (a
// tool that bypasses it still reaches only the proxy); it makes ordinary `fetch` work and turns a
// refusal into the error Deno itself throws for a denied host.
const egress = job.egress;
job.egress = undefined;
if (egress && typeof egress.url === "string" && typeof egress.token === "string") {
  const proxyUrl = egress.url;
  const token = egress.token;
  const fail = (cause) => new TypeErrorCtor("fetch failed", { cause });
  const egressFetch = async function fetch(input, init) {
    const request = new RequestCtor(input, init);
    let url = request.url;
    const first = new URLCtor(url);
    if (first.protocol !== "http:" && first.protocol !== "https:") {
      return ReflectApply(pristineFetch, globalThis, [request]);
    }
    const mode = request.redirect;
    let method = request.method;
    let body = method === "GET" || method === "HEAD" ? undefined : await request.arrayBuffer();
    const headers = new HeadersCtor(request.headers);
    for (let hop = 0; ; hop += 1) {
      headers.set("x-insitu-egress-token", token);
      headers.set("x-insitu-egress-target", url);
      const response = await ReflectApply(pristineFetch, globalThis, [
        proxyUrl,
        { method, headers, body, redirect: "manual", signal: request.signal },
      ]);
      const kind = response.headers.get("x-insitu-egress-status");
      if (kind !== "origin") {
        await response.body?.cancel();
        const reason = decodeComponent(response.headers.get("x-insitu-egress-reason") ?? "refused");
        const target = new URLCtor(url);
        const port = target.port || (target.protocol === "https:" ? "443" : "80");
        // Thrown as Deno throws a host --allow-net does not name: a NotCapable itself, so a tool
        // can tell the operator's refusal from a network error.
        if (kind === "denied") {
          throw new NotCapable(
            `Requires net access to "${target.hostname}:${port}" (refused by the sandbox's egress proxy: ${reason})`,
          );
        }
        throw fail(new ErrorCtor(reason));
      }
      const status = response.status;
      const location = response.headers.get("location");
      if (status >= 300 && status < 400 && status !== 304 && location !== null && mode !== "manual") {
        await response.body?.cancel();
        if (mode === "error") throw fail(new ErrorCtor("the response redirects and redirect is 'error'"));
        if (hop >= 20) throw fail(new ErrorCtor("too many redirects"));
        url = new URLCtor(location, url).href;
        if (
          (status === 303 && method !== "HEAD") ||
          ((status === 301 || status === 302) && method === "POST")
        ) {
          method = "GET";
          body = undefined;
          headers.delete("content-type");
          headers.delete("content-length");
        }
        continue;
      }
      const responseHeaders = new HeadersCtor(response.headers);
      responseHeaders.delete("x-insitu-egress-status");
      const nullBody = status === 204 || status === 205 || status === 304 || method === "HEAD";
      const result = new ResponseCtor(nullBody ? null : response.body, {
        status,
        statusText: response.statusText,
        headers: responseHeaders,
      });
      defineProperty(result, "url", { value: url });
      defineProperty(result, "redirected", { value: hop > 0 });
      return result;
    }
  };
  globalThis.fetch = egressFetch;
}

ReflectApply(addEventListener, globalThis, [
  "unhandledrejection",
  (event) => {
    event.preventDefault();
    emitError("error", event.reason);
  },
]);
ReflectApply(addEventListener, globalThis, [
  "error",
  (event) => {
    event.preventDefault();
    emitError("error", event.error ?? event.message);
  },
]);

if (typeof moduleUrl !== "string" || !moduleUrl.startsWith("data:application/typescript;base64,")) {
  emit('{"k":"error","name":"Error","message":"runner received no tool module","stack":"","cause":""}');
  exit(0);
}

let tool;
try {
  tool = await import(moduleUrl);
} catch (error) {
  emitError("load", error);
}
if (job.mode === "manifest") {
  // `sandbox.check` reads the exported manifest by importing the module here, never in Node.
  let manifestText;
  try {
    manifestText = jsonStringify(tool?.manifest ?? null);
  } catch (error) {
    emitError("unserializable", error);
  }
  emit(`{"k":"ok","output":${manifestText ?? "null"}}`);
  exit(0);
}
const run = tool?.default;
if (typeof run !== "function") {
  emit(
    '{"k":"load","name":"TypeError","message":"the module has no default export: write `export default async function run(input) { ... }`","stack":"","cause":""}',
  );
  exit(0);
}

let output;
try {
  output = await run(input);
} catch (error) {
  emitError("error", error);
}
let text;
try {
  text = jsonStringify(output);
} catch (error) {
  emitError("unserializable", error);
}
if (text === undefined) text = "null";
// Measured in bytes (what travels), not characters; the host checks again before parsing.
if (text.length > maxResultBytes || lengthOf(bytesOf(text)) > maxResultBytes) {
  emit(`{"k":"output-limit","chars":${text.length}}`);
} else {
  emit(`{"k":"ok","output":${text}}`);
}
exit(0);
