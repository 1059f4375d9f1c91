// Returns a promise that never settles, with a timer keeping the loop alive.
export default async function run(_input: unknown): Promise<unknown> {
  setInterval(() => {}, 1000); return await new Promise(() => {});
}
