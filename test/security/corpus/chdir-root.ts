// Changes directory to / and reads a relative path.
export default async function run(_input: unknown): Promise<unknown> {
  Deno.chdir("/"); return Deno.readTextFileSync("etc/passwd");
}
