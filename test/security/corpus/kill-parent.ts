// Signals another process.
export default async function run(_input: unknown): Promise<unknown> {
  Deno.kill(1, "SIGKILL"); return "killed";
}
