/**
 * Tokens for BM25: lowercase words split on anything that is not a letter or digit, on snake_case
 * and camelCase boundaries, minus a short stop list, with a light plural/verb-form folding so
 * "prices" matches "price" and "converting" matches "convert". Deliberately small: tool names and
 * descriptions are short, and a heavier stemmer buys little at this size.
 */
const STOP_WORDS = new Set(
  "a an and are as at be by for from has have in into is it its of on or that the this to was were will with which what when how do does get gets given return returns".split(
    " ",
  ),
);

export function tokenize(text: string): string[] {
  const spaced = text.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
  const tokens: string[] = [];
  for (const word of spaced.split(/[^\p{L}\p{N}]+/u)) {
    if (word.length < 2 || STOP_WORDS.has(word)) continue;
    tokens.push(fold(word));
  }
  return tokens;
}

function fold(word: string): string {
  if (word.length > 5 && word.endsWith("ing")) return word.slice(0, -3);
  if (word.length > 4 && word.endsWith("ies")) return `${word.slice(0, -3)}y`;
  if (word.length > 4 && word.endsWith("ed")) return word.slice(0, -2);
  if (word.length > 3 && word.endsWith("s") && !word.endsWith("ss")) return word.slice(0, -1);
  return word;
}

/** What a tool contributes to the lexical index: its name, description and parameter names. */
export interface LexicalFields {
  name: string;
  description: string;
  parameterNames: string[];
}

/** Field weights are applied by repetition: a name token counts three times, a parameter twice. */
export function documentTokens(fields: LexicalFields): string[] {
  const name = tokenize(fields.name);
  const parameters = tokenize(fields.parameterNames.join(" "));
  return [...name, ...name, ...name, ...parameters, ...parameters, ...tokenize(fields.description)];
}

/** Parameter names of a JSON Schema object (top level and one level of nesting). */
export function parameterNames(inputSchema: Record<string, unknown>): string[] {
  const names: string[] = [];
  const properties = inputSchema.properties;
  if (properties && typeof properties === "object") {
    for (const [key, value] of Object.entries(properties as Record<string, unknown>)) {
      names.push(key);
      const nested = (value as { properties?: unknown } | null)?.properties;
      if (nested && typeof nested === "object") names.push(...Object.keys(nested as object).slice(0, 20));
    }
  }
  return names.slice(0, 60);
}
