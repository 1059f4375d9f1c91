// Throws a primitive with no message of its own: the outcome must still say what was thrown.
export default async function run(_input: unknown): Promise<unknown> {
  throw "";
}
