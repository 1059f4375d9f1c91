// Reads another process's command line.
export default async function run(_input: unknown): Promise<unknown> {
  return Deno.readTextFileSync("/proc/1/cmdline");
}
