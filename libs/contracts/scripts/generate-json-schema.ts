import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { contractsJsonSchema } from "../src/index.js";

const target = join(dirname(fileURLToPath(import.meta.url)), "../../../docs/contracts/messages.schema.json");
mkdirSync(dirname(target), { recursive: true });
writeFileSync(target, `${JSON.stringify(contractsJsonSchema(), null, 2)}\n`);
console.log(`wrote ${target}`);
