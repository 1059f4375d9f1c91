import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface PromptLibrary {
  /** Reads `<dir>/<name>.md` once. */
  loadPrompt(name: string): string;
  /** Loads and renders a prompt with {@link renderTemplate}. */
  renderPrompt(name: string, values: Record<string, string | number>): string;
}

/** The prompt templates of one role, kept as Markdown files in `directory` (a file: URL). */
export function promptLibrary(directory: URL): PromptLibrary {
  const root = fileURLToPath(directory);
  const cache = new Map<string, string>();
  const loadPrompt = (name: string): string => {
    let text = cache.get(name);
    if (text === undefined) {
      text = readFileSync(`${root}${root.endsWith("/") ? "" : "/"}${name}.md`, "utf8");
      cache.set(name, text);
    }
    return text;
  };
  return { loadPrompt, renderPrompt: (name, values) => renderTemplate(loadPrompt(name), values) };
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
