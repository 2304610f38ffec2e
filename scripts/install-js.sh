#!/usr/bin/env bash
# Builds clients/js (@haws/client: ESM, CommonJS, types and the browser bundle
# dist/haws.min.js the demo page loads) with npm from the committed lockfile.
# Idempotent: `npm ci` re-runs only when package-lock.json changed, the build
# only when a source is newer than the bundle.
set -euo pipefail
cd "$(dirname "$0")/../clients/js"

command -v npm >/dev/null 2>&1 \
  || { echo "install: ERROR: npm not found; install Node.js 18+ (make install-system does on Debian)" >&2; exit 1; }

stamp=node_modules/.haws-installed
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
if [ ! -f dist/haws.min.js ] \
   || [ -n "$(find src scripts package.json tsconfig.json -newer dist/haws.min.js -print -quit)" ]; then
  npm run --silent build
  echo "install: $(node scripts/size.mjs)" >&2
fi
