"""Write the committed broker configs generated from ``haws.common.permissions``.

``deploy/nats/auth.conf`` is the NATS ``authorization`` block compose mounts and
Kubernetes turns into a ConfigMap (``deploy/nats/kustomization.yaml``); passwords
are ``$HAWS_NATS_PASSWORD_<ROLE>`` references each server resolves from its
environment. ``tests/unit/test_permissions.py`` fails when the file drifts.
Regenerate with: .venv/bin/python scripts/render_auth.py --write
"""

from __future__ import annotations

import sys
from pathlib import Path

from haws.common.broker_config import authorization

ROOT = Path(__file__).resolve().parent.parent
FILES = {ROOT / "deploy" / "nats" / "auth.conf": authorization}


def main() -> int:
    for path, render in FILES.items():
        text = render()
        if "--write" in sys.argv:
            path.write_text(text)
        else:
            print(f"# {path.relative_to(ROOT)}\n{text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
