// Returns a value nested 1e6 levels deep (JSON.stringify itself overflows).
export default async function run(_input: unknown): Promise<unknown> {
  let value: unknown = 1; for (let i = 0; i < 1_000_000; i++) value = [value]; return value;
}
