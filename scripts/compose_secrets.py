"""Write the secrets docker-compose.yml needs into ./.env (mode 0600, git-ignored).

One NATS password per haws role (``haws.common.permissions``) plus the route
password, and the Consul management and per-service tokens. Values already in
.env are kept, so running it again never locks out a running cluster; only
missing ones are added. Usage: python3 scripts/compose_secrets.py [PATH]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from haws.cluster.credentials import ClusterCredentials

ROOT = Path(__file__).resolve().parent.parent


def read_env(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs if not key.startswith("#")}


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".env"
    current = read_env(path)
    fresh = ClusterCredentials.generate().variables()
    added = {key: value for key, value in fresh.items() if key not in current}
    if not added:
        print(f"{path}: every secret is already there", file=sys.stderr)
        return 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.chmod(path, 0o600)
    with os.fdopen(fd, "a") as out:
        out.write("# haws secrets (scripts/compose_secrets.py); keep this file private\n")
        out.writelines(f"{key}={value}\n" for key, value in added.items())
    print(f"{path}: added {', '.join(sorted(added))}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
