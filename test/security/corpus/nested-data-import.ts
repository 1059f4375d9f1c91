// A data: module that imports a local file.
export default async function run(_input: unknown): Promise<unknown> {
  const inner = 'import "file:///etc/passwd"; export default 1;';
  return await import("data:application/javascript," + encodeURIComponent(inner));
}
