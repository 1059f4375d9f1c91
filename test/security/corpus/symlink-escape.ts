// Makes a symlink in its work dir pointing at /etc/passwd, then reads through it.
export default async function run(_input: unknown): Promise<unknown> {
  Deno.symlinkSync("/etc/passwd", "passwd-link"); return Deno.readTextFileSync("passwd-link");
}
