"""The installed haws version, as services report it (Consul meta, ``info``, micro)."""

from __future__ import annotations

from importlib import metadata


def version() -> str:
    """The distribution's version; ``0.0.0`` when running from an uninstalled tree."""
    try:
        return metadata.version("haws")
    except metadata.PackageNotFoundError:
        return "0.0.0"
