// Tries the bus the way the tool in issue 11 did: CONNECT and SUB > over a raw socket to NATS.
export default async function run(_input: unknown): Promise<unknown> {
  const connection = await Deno.connect({ hostname: "127.0.0.1", port: 4222 });
  await connection.write(new TextEncoder().encode('CONNECT {"verbose":false}\r\nSUB > 1\r\n'));
  connection.close();
  return "subscribed";
}
