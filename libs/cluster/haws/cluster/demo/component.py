"""The demo page's server as a cluster component: started last, beside HAProxy."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from haws.cluster.component import Component
from haws.cluster.demo.config import DemoConfig
from haws.cluster.ports import LOOPBACK, free_port
from haws.cluster.probe import http_ok


class DemoServer(Component):
    """Ready when ``/health`` answers. Its port is chosen at construction, so the
    gateways can be told the page's origin before any of them starts."""

    def __init__(
        self,
        data_dir: Path,
        *,
        name: str = "demo",
        port: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(name, data_dir, env={"PYTHONUNBUFFERED": "1", **(env or {})})
        self.port = port or free_port()
        self.config: DemoConfig | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/"

    @property
    def origins(self) -> tuple[str, ...]:
        """Both names a developer may type for the page."""
        return (f"http://{LOOPBACK}:{self.port}", f"http://localhost:{self.port}")

    @property
    def config_path(self) -> Path:
        return self.home / "config.json"

    def prepare(self) -> None:
        super().prepare()
        if self.config is None:
            raise RuntimeError("DemoServer.config must be set before it starts")
        self.config_path.write_text(self.config.to_json())

    def argv(self) -> list[str]:
        return [
            sys.executable, "-m", "haws.cluster.demo",
            "--port", str(self.port), "--config", str(self.config_path),
        ]  # fmt: skip

    def ready(self) -> bool:
        return http_ok(f"{self.url}health")

    def describe(self) -> dict[str, Any]:
        return {"url": self.url, "pid": self.pid}
