// Imports a local file as text via an import attribute.
export default async function run(_input: unknown): Promise<unknown> {
  return (await import("file:///etc/shadow", { with: { type: "text" } })).default;
}
