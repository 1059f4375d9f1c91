import type { ToolManifest } from "@insitu/tool-kit";

/**
 * The module the sandbox runs: our manifest export in front of the model's body. The model never
 * writes the manifest, so name, schemas and permissions cannot drift from what was requested.
 */
export function composeModule(manifest: ToolManifest, body: string): string {
  return `export const manifest = ${JSON.stringify(manifest, null, 2)};\n\n${stripManifest(body).trim()}\n`;
}

/** Removes a `export const manifest = …;` the model wrote anyway (ours is authoritative). */
export function stripManifest(body: string): string {
  const start = body.search(/export\s+const\s+manifest\s*(:[^=]+)?=/);
  if (start === -1) return body;
  // Find the end of the object literal by bracket balance from the first `{` after `=`.
  const open = body.indexOf("{", start);
  if (open === -1) return body;
  let depth = 0;
  let inString: string | undefined;
  for (let index = open; index < body.length; index++) {
    const char = body[index];
    if (inString) {
      if (char === "\\") index++;
      else if (char === inString) inString = undefined;
      continue;
    }
    if (char === '"' || char === "'" || char === "`") inString = char;
    else if (char === "{") depth++;
    else if (char === "}") {
      depth--;
      if (depth === 0) {
        let end = index + 1;
        while (end < body.length && /[\s;]/.test(body[end] ?? "")) {
          end++;
          if (body[end - 1] === ";") break;
        }
        return body.slice(0, start) + body.slice(end);
      }
    }
  }
  return body;
}
