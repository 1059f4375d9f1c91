// Declared example.com:443 but fetches example.com:8443.
export default async function run(_input: unknown): Promise<unknown> {
  return (await fetch("https://example.com:8443/")).status;
}
