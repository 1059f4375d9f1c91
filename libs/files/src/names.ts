/**
 * Names of attachments and paths of workspace files. A name is refused (never silently rewritten)
 * when it could escape the workspace or mean something else to some file system: traversal,
 * separators, control characters, Windows device names, trailing dots or spaces.
 */

const DEVICE_NAMES = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$|clock\$)(\..*)?$/i;
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/;
const RESERVED_CHARACTERS = /[<>:"|?*\\/]/;

export const NAME_MAX_CHARS = 128;
export const PATH_MAX_CHARS = 512;
export const PATH_MAX_DEPTH = 8;

/** Why `name` is not an acceptable file name, or undefined when it is. */
export function fileNameProblem(name: string): string | undefined {
  if (name.length === 0) return "the name is empty";
  if (name.length > NAME_MAX_CHARS) return `the name is longer than ${NAME_MAX_CHARS} characters`;
  if (name !== name.normalize("NFC")) return "the name is not in Unicode NFC form";
  if (CONTROL.test(name)) return "the name contains control or invisible formatting characters";
  if (name === "." || name === "..") return "the name is a path traversal";
  if (name.includes("/") || name.includes("\\")) return "the name contains a path separator";
  if (RESERVED_CHARACTERS.test(name)) return 'the name contains one of < > : " | ? *';
  if (name.startsWith(".")) return "the name starts with a dot (hidden files are not kept)";
  if (/[. ]$/.test(name)) return "the name ends with a dot or a space";
  if (/^\s/.test(name)) return "the name starts with a space";
  if (DEVICE_NAMES.test(name)) return "the name is a reserved device name";
  return undefined;
}

/** Why `path` (relative, `/`-separated) is not an acceptable workspace path, or undefined. */
export function workspacePathProblem(path: string): string | undefined {
  if (path.length === 0) return "the path is empty";
  if (path.length > PATH_MAX_CHARS) return `the path is longer than ${PATH_MAX_CHARS} characters`;
  if (path.startsWith("/")) return "the path is absolute";
  const segments = path.split("/");
  if (segments.length > PATH_MAX_DEPTH) return `the path is deeper than ${PATH_MAX_DEPTH} folders`;
  for (const segment of segments) {
    const problem = fileNameProblem(segment);
    if (problem) return `${problem} (${JSON.stringify(segment.slice(0, 40))})`;
  }
  return undefined;
}
