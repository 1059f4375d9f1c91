// Catastrophic backtracking in its own regex.
export default async function run(_input: unknown): Promise<unknown> {
  return /^(a+)+$/.test("a".repeat(40) + "!");
}
