// Declares localhost; the operator allows only 127.0.0.1:port.
export default async function run(_input: unknown): Promise<unknown> {
  return (await fetch("http://localhost:__PORT__/")).status;
}
