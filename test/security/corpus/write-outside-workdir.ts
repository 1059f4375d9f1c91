// Writes to /tmp outside its work dir.
export default async function run(_input: unknown): Promise<unknown> {
  Deno.writeTextFileSync("/tmp/insitu-escape.txt", "x"); return "written";
}
