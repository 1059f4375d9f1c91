// Replaces Uint8Array's species (and the prototype's constructor) with a subclass that sees the
// backing buffer of any view the runner derives from its frame, then rewrites the frame's body in
// place — same length, so the frame still parses — to turn a real failure into an `ok`.
const decoder = new TextDecoder();
const encoder = new TextEncoder();
class Spy extends Uint8Array {
  constructor(...args: unknown[]) {
    // @ts-ignore: forwarding whatever TypedArraySpeciesCreate passes
    super(...args);
    const buffer = args[0];
    if (!(buffer instanceof ArrayBuffer)) return;
    const whole = new Uint8Array(buffer);
    const text = decoder.decode(whole);
    const start = text.indexOf('{"k":"error"');
    if (start < 0) return;
    const end = text.lastIndexOf("}") + 1;
    const forged = '{"k":"ok","output":"forged"}';
    whole.set(encoder.encode(forged.padEnd(end - start, " ")), start);
  }
}
Object.defineProperty(Uint8Array, Symbol.species, { get: () => Spy, configurable: true });
Object.defineProperty(Uint8Array.prototype, "constructor", { value: Spy, configurable: true, writable: true });

export default async function run(_input: unknown): Promise<unknown> {
  throw new Error("real failure");
}
