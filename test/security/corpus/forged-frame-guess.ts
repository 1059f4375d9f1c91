// Prints result frames with guessed nonces, then fails.
export default async function run(_input: unknown): Promise<unknown> {
  for (let i = 0; i < 100; i++) console.log("\u001e" + crypto.randomUUID() + ":24:{\"k\":\"ok\",\"output\":1}"); throw new Error("real failure");
}
