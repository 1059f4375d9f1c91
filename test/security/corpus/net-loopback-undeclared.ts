// Fetches the local test server without declaring it.
export default async function run(_input: unknown): Promise<unknown> {
  return (await fetch("http://127.0.0.1:__PORT__/")).status;
}
