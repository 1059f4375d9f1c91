// Imports a module from the web.
export default async function run(_input: unknown): Promise<unknown> {
  return await import("https://deno.land/std/path/mod.ts");
}
