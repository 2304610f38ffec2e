import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { test } from "node:test";
import { gzipSync } from "node:zlib";

const root = new URL("..", import.meta.url);

test("the package resolves by name as ESM and as CommonJS, with types for both", async () => {
  const esm = await import("@haws/client");
  assert.equal(typeof esm.Client, "function");
  const cjs = createRequire(import.meta.url)("@haws/client");
  assert.equal(typeof cjs.Client, "function");
  const pkg = JSON.parse(readFileSync(new URL("package.json", root)));
  for (const condition of ["import", "require"]) {
    const types = pkg.exports["."][condition].types;
    assert.ok(readFileSync(new URL(types, root)).includes("Client"), `${condition} types`);
  }
  assert.deepEqual(pkg.dependencies ?? {}, {}, "zero runtime dependencies");
});

test("the browser bundle defines the global haws and stays within 8 KB min+gzip", () => {
  const bundle = readFileSync(new URL("dist/haws.min.js", root));
  const gz = gzipSync(bundle, { level: 9 }).length;
  console.log(`bundle: ${bundle.length} bytes minified, ${gz} bytes min+gzip`);
  assert.ok(gz <= 8192, `${gz} bytes`);
  const out = execFileSync(process.execPath, ["-e", `${bundle};console.log(typeof haws.Client)`]).toString();
  assert.equal(out.trim(), "function");
});
