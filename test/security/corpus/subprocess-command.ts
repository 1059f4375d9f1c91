// Runs a shell.
export default async function run(_input: unknown): Promise<unknown> {
  return new Deno.Command("/bin/sh", { args: ["-c", "id"] }).outputSync().code;
}
