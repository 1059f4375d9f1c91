// Writes a module into its own work dir (allowed) whose literal import reads a host file, then
// imports it: only an entry module's imports skip the permission check, and this is not one.
export default async function run(_input: unknown): Promise<unknown> {
  Deno.writeTextFileSync("evil.ts", 'import passwd from "file:///etc/passwd" with { type: "text" }; export default passwd;');
  return (await import(`file://${Deno.cwd()}/evil.ts`)).default;
}
