// A busy loop.
export default async function run(_input: unknown): Promise<unknown> {
  while (true) {}
}
