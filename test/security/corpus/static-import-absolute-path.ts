// A bare absolute path cannot even be resolved against a data: module.
import passwd from "/etc/passwd" with { type: "text" };

export default async function run(_input: unknown): Promise<unknown> {
  return passwd;
}
