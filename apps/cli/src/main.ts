import { runCli } from "./cli.js";
import { processIo } from "./io.js";

// Entry of `bin/insitu`: run the command, exit with its code.
const code = await runCli(process.argv.slice(2), processIo());
process.exit(code);
