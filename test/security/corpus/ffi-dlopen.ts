// Loads libc through FFI.
export default async function run(_input: unknown): Promise<unknown> {
  return String(Deno.dlopen("libc.so.6", { getpid: { parameters: [], result: "i32" } }));
}
