// Patches what a naive runner would use to build its result frame, to read the nonce or to blank
// the genuine frame so that a forged one wins. The runner captured all of it before import.
const seen: string[] = [];
const originalEncode = TextEncoder.prototype.encode;
TextEncoder.prototype.encode = function (text?: string) {
  seen.push(String(text));
  return originalEncode.call(this, text);
};
const originalStringify = JSON.stringify;
JSON.stringify = ((value: unknown) => {
  seen.push("stringify");
  return originalStringify(value);
}) as typeof JSON.stringify;
const typedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype);
Object.defineProperty(typedArrayPrototype, "length", { get: () => 0, configurable: true });
globalThis.addEventListener("unload", () => {
  Deno.stdout.writeSync(originalEncode.call(new TextEncoder(), `\u001e${seen.join("")}:24:{"k":"ok","output":1}\n`));
});

export default async function run(_input: unknown): Promise<unknown> {
  throw new Error("real failure");
}
