// Dumps the whole environment.
export default async function run(_input: unknown): Promise<unknown> {
  return Deno.env.toObject();
}
