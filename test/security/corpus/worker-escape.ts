// Starts a worker that reads a host file.
export default async function run(_input: unknown): Promise<unknown> {
  const worker = new Worker("data:text/javascript," + encodeURIComponent("postMessage(Deno.readTextFileSync(\"/etc/passwd\"))"), { type: "module" }); return await new Promise((resolve, reject) => { worker.onmessage = (event) => resolve(event.data); worker.onerror = (event) => { event.preventDefault(); reject(new Error(event.message)); }; });
}
