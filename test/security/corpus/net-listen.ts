// Opens a listening socket.
export default async function run(_input: unknown): Promise<unknown> {
  const listener = Deno.listen({ port: 18080 }); listener.close(); return "listening";
}
