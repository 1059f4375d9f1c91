// Declares the metadata service spelled through the NAT64 prefix (64:ff9b::a9fe:a9fe).
export default async function run(_input: unknown): Promise<unknown> {
  return (await fetch("http://[64:ff9b::a9fe:a9fe]/latest/meta-data/")).status;
}
