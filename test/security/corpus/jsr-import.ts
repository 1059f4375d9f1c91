// Imports a jsr package.
export default async function run(_input: unknown): Promise<unknown> {
  return await import("jsr:@std/path");
}
