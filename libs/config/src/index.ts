export { parseConfig } from "./parse-config.js";
