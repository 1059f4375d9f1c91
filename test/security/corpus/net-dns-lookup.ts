// Uses DNS directly.
export default async function run(_input: unknown): Promise<unknown> {
  return await Deno.resolveDns("example.com", "A");
}
