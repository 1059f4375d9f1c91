// Prints without end.
export default async function run(_input: unknown): Promise<unknown> {
  const line = "x".repeat(4096); while (true) console.log(line);
}
