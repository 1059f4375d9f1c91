// A literal import of a local file in the tool module (read with no permission if the tool were the
// entry module; here the tool is a data: module imported by the fixed runner).
import passwd from "file:///etc/passwd" with { type: "text" };

export default async function run(_input: unknown): Promise<unknown> {
  return passwd;
}
