// Opens a WebSocket to the local server.
export default async function run(_input: unknown): Promise<unknown> {
  const socket = new WebSocket("ws://127.0.0.1:__PORT__/"); return await new Promise((resolve, reject) => { socket.onopen = () => resolve("open"); socket.onerror = (event) => reject(new Error((event as ErrorEvent).message)); });
}
