// Blocks the thread forever with Atomics.wait.
export default async function run(_input: unknown): Promise<unknown> {
  const shared = new Int32Array(new SharedArrayBuffer(4)); Atomics.wait(shared, 0, 0); return "woke";
}
