// Opens a raw TCP connection.
export default async function run(_input: unknown): Promise<unknown> {
  const connection = await Deno.connect({ hostname: "127.0.0.1", port: __PORT__ }); connection.close(); return "connected";
}
