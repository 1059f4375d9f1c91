// Declares a public-looking name (which the test resolver maps to loopback) and opens a raw TCP
// socket to it, around the proxy. Only the proxy is reachable: Deno refuses the socket.
export default async function run(_input: unknown): Promise<unknown> {
  const connection = await Deno.connect({ hostname: "mapped.egress-test.example", port: __PORT__ });
  connection.close();
  return "connected";
}
