// Starts hundreds of workers spinning on the CPU.
export default async function run(_input: unknown): Promise<unknown> {
  const workers = []; for (let i = 0; i < 500; i++) workers.push(new Worker("data:text/javascript," + encodeURIComponent("while(true){}"), { type: "module" })); await new Promise(() => setTimeout(() => {}, 60_000)); return workers.length;
}
