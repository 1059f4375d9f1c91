// Reads an environment variable it never declared.
export default async function run(_input: unknown): Promise<unknown> {
  return Deno.env.get("HOME") ?? null;
}
