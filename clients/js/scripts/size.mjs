// Prints the browser bundle's minified and gzipped size; exits 1 over the budget.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

export const BUDGET = 8 * 1024;
const min = readFileSync(new URL("../dist/haws.min.js", import.meta.url));
const gz = gzipSync(min, { level: 9 }).length;
console.log(`dist/haws.min.js: ${min.length} bytes minified, ${gz} bytes min+gzip (budget ${BUDGET})`);
if (gz > BUDGET) {
  console.error(`over budget by ${gz - BUDGET} bytes`);
  process.exit(1);
}
