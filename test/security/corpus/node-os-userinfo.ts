// node:os leaks host identity.
import os from "node:os";

export default async function run(_input: unknown): Promise<unknown> {
  return os.userInfo();
}
