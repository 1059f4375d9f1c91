// Returns a cyclic object.
export default async function run(_input: unknown): Promise<unknown> {
  const value: Record<string, unknown> = {}; value.self = value; return value;
}
