// Allocates ArrayBuffers outside the V8 heap.
export default async function run(_input: unknown): Promise<unknown> {
  const hoard = []; while (true) hoard.push(new Uint8Array(64 * 1024 * 1024).fill(7));
}
