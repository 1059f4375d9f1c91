// Fetches the stack's own NATS port (undeclared, internal), catches the refusal and returns ok as
// if nothing happened: the denial must still reach the operator in the outcome.
export default async function run(_input: unknown): Promise<unknown> {
  try {
    await fetch("http://127.0.0.1:4222/");
    return { reached: true };
  } catch {
    return { reached: false };
  }
}
