// Asks for read permission at run time.
export default async function run(_input: unknown): Promise<unknown> {
  const status = await Deno.permissions.request({ name: "read" }); if (status.state !== "granted") { return Deno.readTextFileSync("/etc/passwd"); } return "granted";
}
