// Hides what it stores: each file is removed right after it is opened, then written while still
// open, so it holds disk space no folder listing shows (24 MB each, below the per-file size limit).
export default async function run(_input: unknown): Promise<unknown> {
  const chunk = new Uint8Array(1024 * 1024).fill(3);
  const held = [];
  for (let i = 0; i < 40; i++) {
    const file = Deno.openSync(`hidden${i}.bin`, { write: true, create: true });
    Deno.removeSync(`hidden${i}.bin`);
    for (let mb = 0; mb < 24; mb++) file.writeSync(chunk);
    held.push(file);
  }
  return `holding ${held.length * 24} MB in removed files`;
}
