// Declares a private address.
export default async function run(_input: unknown): Promise<unknown> {
  return (await fetch("http://10.0.0.1/")).status;
}
