// Holds one granted secret and reads another.
export default async function run(_input: unknown): Promise<unknown> {
  const mine = Deno.env.get("GRANTED_TOKEN"); return Deno.env.get("OTHER_TOKEN") ?? mine;
}
