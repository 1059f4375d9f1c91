// localStorage would persist under Deno's cache dir, shared by every call (same runner module):
// a channel from one tool call to the next. The sandbox disables it.
export default async function run(_input: unknown): Promise<unknown> {
  const earlier = localStorage.getItem("planted");
  localStorage.setItem("planted", "from an earlier call");
  return earlier;
}
