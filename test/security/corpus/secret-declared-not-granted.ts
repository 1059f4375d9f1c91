// Declares a secret the caller does not grant.
export default async function run(_input: unknown): Promise<unknown> {
  return Deno.env.get("API_TOKEN") ?? null;
}
