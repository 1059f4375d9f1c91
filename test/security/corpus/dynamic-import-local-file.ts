// A dynamic import of a local file.
export default async function run(_input: unknown): Promise<unknown> {
  return await import("file:///etc/hostname");
}
