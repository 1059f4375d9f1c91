// Reads host memory information.
export default async function run(_input: unknown): Promise<unknown> {
  return Deno.systemMemoryInfo();
}
