// Throws undefined.
export default async function run(_input: unknown): Promise<unknown> {
  throw undefined;
}
