// Fetches a host it never declared.
export default async function run(_input: unknown): Promise<unknown> {
  return (await fetch("https://example.com/")).status;
}
