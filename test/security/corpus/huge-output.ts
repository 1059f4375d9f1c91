// Returns more than the output budget.
export default async function run(_input: unknown): Promise<unknown> {
  return { blob: "z".repeat(2 * 1024 * 1024) };
}
