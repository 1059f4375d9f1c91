// Grows the JS heap without bound.
export default async function run(_input: unknown): Promise<unknown> {
  const hoard = []; while (true) hoard.push(new Array(1_000_000).fill(Math.random()));
}
