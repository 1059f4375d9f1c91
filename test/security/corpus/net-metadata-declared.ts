// Declares the cloud metadata address.
export default async function run(_input: unknown): Promise<unknown> {
  return (await fetch("http://169.254.169.254/latest/meta-data/")).status;
}
