// Writes stderr without end.
export default async function run(_input: unknown): Promise<unknown> {
  const bytes = new TextEncoder().encode("y".repeat(65536)); while (true) Deno.stderr.writeSync(bytes);
}
