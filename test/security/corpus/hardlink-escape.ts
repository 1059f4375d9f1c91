// A hard link from the work dir to a host file.
export default async function run(_input: unknown): Promise<unknown> {
  Deno.linkSync("/etc/passwd", "passwd-link");
  return Deno.readTextFileSync("passwd-link");
}
