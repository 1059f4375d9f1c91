/**
 * Tokens for BM25, for every script (ADR 0055):
 * - Latin and other alphabetic scripts: words split on anything that is not a letter or digit and
 *   on snake_case / camelCase boundaries, lowercased, minus a stop list (function words and the
 *   words every benchmark question uses: "what", "which", "many"), with a light inflection folding
 *   ("prices" → "price", "converting" → "convert"). Porter's full stemmer was measured on the
 *   retrieval-quality set and found no more needed tools (two fewer at 5,000 tools), so the light
 *   folding stays;
 * - Han, Kana and Hangul, which write no spaces between words: overlapping character bigrams (a
 *   lone character stays a unigram), the usual indexing unit for CJK text without a dictionary.
 *   Before this, a run of CJK characters was one token and a Chinese question matched nothing.
 */
const STOP_WORDS = new Set(
  (
    "a an and are as at be by for from has have in into is it its of on or that the this to was were will with which what when how do does get gets given return returns " +
    "who whom whose where why there their they them than then these those did done can could would should may might must also any all each every some such only own same " +
    "so too very just about after before over under again further once here both few more most other no nor not i me my we our you your he him his she her us " +
    "many much please"
  ).split(" "),
);

/** Han (CJK ideographs), Hiragana, Katakana and Hangul: scripts written without spaces. */
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const CJK_RUNS = /([\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]+)/u;

export function tokenize(text: string): string[] {
  const spaced = text
    .normalize("NFKC")
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .toLowerCase();
  const tokens: string[] = [];
  for (const run of spaced.split(/[^\p{L}\p{N}]+/u)) {
    if (!run) continue;
    if (!CJK.test(run)) {
      addWord(run, tokens);
      continue;
    }
    for (const part of run.split(CJK_RUNS)) {
      if (!part) continue;
      if (!CJK.test(part)) {
        addWord(part, tokens);
        continue;
      }
      const characters = [...part];
      if (characters.length === 1) tokens.push(part);
      for (let index = 0; index + 1 < characters.length; index++)
        tokens.push(`${characters[index]}${characters[index + 1]}`);
    }
  }
  return tokens;
}

function addWord(word: string, tokens: string[]): void {
  if (word.length < 2 || STOP_WORDS.has(word)) return;
  tokens.push(fold(word));
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

/**
 * Field weights are applied by repetition: a name token counts three times, a parameter once.
 * Parameters counted twice until the catalog's retrieved neighbourhood (ADR 0106): generic
 * parameter names ("text", "url", "date") shared by hundreds of tools then outweighed the
 * description's words, and the needed tool fell below padding that merely shared a parameter.
 */
export function documentTokens(fields: LexicalFields): string[] {
  const name = tokenize(fields.name);
  const parameters = tokenize(fields.parameterNames.join(" "));
  return [...name, ...name, ...name, ...parameters, ...tokenize(fields.description)];
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
