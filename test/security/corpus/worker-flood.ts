// Multiplies itself across CPU-spinning workers (threads of the same process): the CPU-time
// limit counts every thread, and the wall clock kills the whole process group.
export default async function run(_input: unknown): Promise<unknown> {
  const workers = [];
  for (let i = 0; i < 8; i++) {
    workers.push(new Worker(`data:text/javascript,${encodeURIComponent("while (true) {}")}`, { type: "module" }));
  }
  await new Promise(() => setInterval(() => {}, 1000));
  return workers.length;
}
