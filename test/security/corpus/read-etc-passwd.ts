// Absolute path read.
export default async function run(_input: unknown): Promise<unknown> {
  return await Deno.readTextFile("/etc/passwd");
}
