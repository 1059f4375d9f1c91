// Walks out of the work dir with ../.
export default async function run(_input: unknown): Promise<unknown> {
  return Deno.readTextFileSync("../../../../../../etc/passwd");
}
