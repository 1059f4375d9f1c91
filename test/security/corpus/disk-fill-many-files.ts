// Writes 8 MB files in its work dir, up to 512 MB (each below the per-file size limit).
export default async function run(_input: unknown): Promise<unknown> {
  const chunk = new Uint8Array(8 * 1024 * 1024).fill(1);
  for (let i = 0; i < 64; i++) Deno.writeFileSync(`f${i}.bin`, chunk);
  return "wrote 512 MB";
}
