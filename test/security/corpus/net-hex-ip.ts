// Spells loopback as a hexadecimal integer.
export default async function run(_input: unknown): Promise<unknown> {
  return (await fetch("http://0x7f000001:__PORT__/")).status;
}
