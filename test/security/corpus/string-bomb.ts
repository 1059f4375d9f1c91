// Doubles a string until it cannot.
export default async function run(_input: unknown): Promise<unknown> {
  let text = "x"; while (true) text = text + text;
}
