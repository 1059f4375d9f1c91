// Creates empty files without bound: no byte quota is met, only the cap on the number of entries.
export default async function run(_input: unknown): Promise<unknown> {
  for (let i = 0; i < 1_000_000; i++) Deno.writeFileSync(`f${i}`, new Uint8Array(0));
  return "created a million files";
}
