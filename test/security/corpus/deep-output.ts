// Returns a value nested 200 levels deep.
export default async function run(_input: unknown): Promise<unknown> {
  let value: unknown = 1; for (let i = 0; i < 200; i++) value = [value]; return value;
}
