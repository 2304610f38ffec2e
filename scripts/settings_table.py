"""Print the settings of every haws service as Markdown tables.

``docs/operations.md`` holds this output between its ``settings`` markers;
``tests/unit/test_settings_doc.py`` fails when a setting is missing there.
Regenerate with: .venv/bin/python scripts/settings_table.py --write
"""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

from haws.api.settings import ApiSettings
from haws.common.settings import env_name, flag_name
from haws.gateway.settings import GatewaySettings
from haws.presence.settings import PresenceSettings
from haws.replay.settings import ReplaySettings

SERVICES = {
    "haws gateway": GatewaySettings,
    "haws replay": ReplaySettings,
    "haws presence": PresenceSettings,
    "haws api": ApiSettings,
}
DOC = Path(__file__).resolve().parent.parent / "docs" / "operations.md"
BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"


def tables() -> str:
    out: list[str] = []
    for title, cls in SERVICES.items():
        out += [
            f"### `{title}`",
            "",
            "| variable | flag | default | meaning |",
            "|---|---|---|---|",
        ]
        for field in dataclasses.fields(cls):
            default = field.default
            if isinstance(default, tuple):
                default = ",".join(default)
            text = str(field.metadata.get("help", "")).replace("|", "/")
            out.append(
                f"| `{env_name(field.name)}` | `{flag_name(field.name)}` | `{default}` | {text} |"
            )
        out.append("")
    return "\n".join(out)


def main() -> int:
    text = tables()
    if "--write" in sys.argv:
        doc = DOC.read_text()
        pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
        DOC.write_text(pattern.sub(f"{BEGIN}\n{text}\n{END}", doc))
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
