// Writes many 8 MB files in its work dir.
export default async function run(_input: unknown): Promise<unknown> {
  const chunk = new Uint8Array(8 * 1024 * 1024).fill(1); for (let i = 0; ; i++) Deno.writeFileSync(`f${i}.bin`, chunk);
}
