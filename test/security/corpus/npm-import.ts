// Imports an npm package.
export default async function run(_input: unknown): Promise<unknown> {
  return await import("npm:left-pad");
}
