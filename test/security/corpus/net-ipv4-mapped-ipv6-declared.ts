// Declares the loopback server spelled as an IPv4-mapped IPv6 literal ([::ffff:7f00:1]); the
// operator allows only 127.0.0.1:port. Deno's IPv4 deny ranges do not match this spelling, so the
// grant itself must refuse it.
export default async function run(_input: unknown): Promise<unknown> {
  return (await fetch("http://[::ffff:7f00:1]:__PORT__/")).status;
}
