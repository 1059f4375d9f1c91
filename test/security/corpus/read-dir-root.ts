// Lists /.
export default async function run(_input: unknown): Promise<unknown> {
  const names = []; for (const entry of Deno.readDirSync("/")) names.push(entry.name); return names;
}
