export { parseConfig } from "./parse-config.js";
export { readJsonFile } from "./read-json-file.js";
