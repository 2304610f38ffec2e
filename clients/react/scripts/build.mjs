// Builds dist/: ESM and CommonJS (each one file, with .d.ts beside it); react and
// @haws/client stay imports (peer dependencies), never bundled.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { build } from "esbuild";

const common = {
  entryPoints: ["src/index.ts"],
  bundle: true,
  target: "es2020",
  logLevel: "warning",
  external: ["react", "@haws/client"],
};

rmSync("dist", { recursive: true, force: true });
execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"], { stdio: "inherit" });
await build({ ...common, format: "esm", outfile: "dist/esm/index.js" });
await build({ ...common, format: "cjs", outfile: "dist/cjs/index.js" });
// The CommonJS folder says so itself (the package is "type": "module"), and its
// declarations sit beside it so `require` resolves types in CommonJS mode.
mkdirSync("dist/cjs", { recursive: true });
writeFileSync("dist/cjs/package.json", '{ "type": "commonjs" }\n');
cpSync("dist/esm", "dist/cjs", { recursive: true, filter: (src) => !src.endsWith("index.js") || src.endsWith(".d.ts") });
