// The Cache API would persist across calls like localStorage; disabled too.
export default async function run(_input: unknown): Promise<unknown> {
  const cache = await caches.open("planted");
  await cache.put("https://planted.example/", new Response("from an earlier call"));
  return "stored";
}
