"""Ships libs/protocol's ``haws.protocol`` inside the SDK's wheel and sdist.

A hook rather than a static ``force-include`` because two builds must not copy it:
an editable install (``dev-mode-dirs`` puts libs/protocol on ``sys.path``, and a
copy in site-packages would shadow the checkout), and a wheel built from the
sdist (which already carries ``haws/protocol`` and has no libs/ beside it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.config import BuilderConfig
from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class ProtocolLayerHook(BuildHookInterface[BuilderConfig]):
    PLUGIN_NAME = "protocol-layer"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":
            return
        source = Path(self.root).parent.parent / "libs" / "protocol" / "haws" / "protocol"
        if source.is_dir():
            build_data["force_include"][str(source)] = "haws/protocol"
