#!/usr/bin/env bash
# Builds clients/js (@haws/client: ESM, CommonJS, types and the browser bundle
# dist/haws.min.js the demo page loads) and clients/react (@haws/react) with npm
# from their committed lockfiles. Idempotent: `npm ci` re-runs only when a
# package-lock.json changed, a build only when a source is newer than its output.
set -euo pipefail
clients="$(cd "$(dirname "$0")/../clients" && pwd)"

command -v npm >/dev/null 2>&1 \
  || { echo "install: ERROR: npm not found; install Node.js 18+ (make install-system does on Debian)" >&2; exit 1; }

# $1: the package folder; $2: the build output whose age decides a rebuild.
build() {
  cd "$clients/$1"
  local stamp=node_modules/.haws-installed want
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" > "$stamp"
  fi
  if [ ! -f "$2" ] || [ -n "$(find src scripts package.json tsconfig.json -newer "$2" -print -quit)" ]; then
    npm run --silent build
    return 0
  fi
  return 1
}

if build js dist/haws.min.js; then echo "install: $(node scripts/size.mjs)" >&2; fi
# @haws/react imports @haws/client (../js, linked by npm): built after it.
build react dist/esm/index.js || true
