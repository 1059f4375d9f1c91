// Grows one file in its work dir without bound.
export default async function run(_input: unknown): Promise<unknown> {
  const file = Deno.openSync("fill.bin", { write: true, create: true }); const chunk = new Uint8Array(1024 * 1024); while (true) file.writeSync(chunk);
}
