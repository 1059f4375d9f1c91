// Returns a promise that can never settle and leaves nothing on the event loop.
export default async function run(_input: unknown): Promise<unknown> {
  return await new Promise(() => {});
}
