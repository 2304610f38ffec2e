"""docs/operations.md lists every setting of every service (regenerate with
``.venv/bin/python scripts/settings_table.py --write``)."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

from haws.common.settings import env_name

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented() -> None:
    spec = importlib.util.spec_from_file_location(
        "settings_table", ROOT / "scripts/settings_table.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc = (ROOT / "docs/operations.md").read_text()
    missing = [
        env_name(f.name)
        for cls in module.SERVICES.values()
        for f in dataclasses.fields(cls)
        if f"`{env_name(f.name)}`" not in doc
    ]
    assert not missing, f"run scripts/settings_table.py --write; missing: {missing}"
