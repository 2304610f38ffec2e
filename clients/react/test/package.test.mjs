import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { test } from "node:test";

test("@haws/react resolves as ESM and CommonJS, react and @haws/client left as peers", async () => {
  const esm = await import("@haws/react");
  const cjs = createRequire(import.meta.url)("@haws/react");
  for (const mod of [esm, cjs]) {
    for (const name of ["HawsProvider", "useClient", "useConnectionState", "useSubscription", "usePresence"]) {
      assert.equal(typeof mod[name], "function", name);
    }
  }
  const pkg = createRequire(import.meta.url)("@haws/react/package.json");
  assert.deepEqual(Object.keys(pkg.peerDependencies).sort(), ["@haws/client", "react"]);
  assert.equal(pkg.dependencies, undefined);
});
