// Reads the host environment through /proc.
export default async function run(_input: unknown): Promise<unknown> {
  return Deno.readTextFileSync("/proc/self/environ");
}
