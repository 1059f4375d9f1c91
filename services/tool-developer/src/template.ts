import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const PROMPTS_DIR = fileURLToPath(new URL("../prompts/", import.meta.url));
const cache = new Map<string, string>();

/** Reads `prompts/<name>.md` once. */
export function loadPrompt(name: string): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(`${PROMPTS_DIR}${name}.md`, "utf8");
    cache.set(name, text);
  }
  return text;
}

/**
 * Fills `{{name}}` placeholders. Every placeholder must be given and every value used, so a
 * renamed variable fails loudly in the prompt tests rather than silently sending `{{x}}` to a model.
 */
export function renderTemplate(template: string, values: Record<string, string | number>): string {
  const used = new Set<string>();
  const rendered = template.replace(/\{\{(\w+)\}\}/g, (_match, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`prompt placeholder {{${key}}} has no value`);
    used.add(key);
    return String(value);
  });
  for (const key of Object.keys(values)) {
    if (!used.has(key)) throw new Error(`prompt value ${key} is not used by the template`);
  }
  return rendered;
}

export function renderPrompt(name: string, values: Record<string, string | number>): string {
  return renderTemplate(loadPrompt(name), values);
}
