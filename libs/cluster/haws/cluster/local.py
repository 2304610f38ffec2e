"""The whole local cluster: which components, in which order, started and stopped how.

Start order follows dependencies: Consul and NATS (together), then presence and
replay, then the gateways with HAProxy in front. Each stage spawns all its
members at once and waits for all of them under one overall deadline. Stop runs
in reverse, so gateways drain while NATS and Consul are still there. While it
runs, ``rolling_restart`` replaces the gateways one by one (see ``rolling``).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from haws.cluster.component import Component, wait_ready_all
from haws.cluster.consul import ConsulAgent
from haws.cluster.consul_acl import apply as apply_consul_acl
from haws.cluster.credentials import FILE as CREDENTIALS_FILE
from haws.cluster.credentials import ClusterCredentials
from haws.cluster.demo import DemoConfig, DemoServer
from haws.cluster.haproxy import HAProxy
from haws.cluster.nats import NatsAuth, NatsCluster
from haws.cluster.origins import ENV as ORIGINS_ENV
from haws.cluster.origins import merged
from haws.cluster.process import stop_all
from haws.cluster.rolling import GatewayRestart, Progress
from haws.cluster.rolling import rolling_restart as _rolling_restart
from haws.cluster.services import (
    ApiService,
    Gateway,
    HawsService,
    backend_service,
    service_available,
)


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """How many of each part. Presence and replay start only once they are installed."""

    nats: int = 1
    gateways: int = 2
    presence: int = 2
    replay: int = 2
    api: int = 1
    api_key: str = "dev-api-key"
    """The key every API replica accepts (``haws up`` makes a random one)."""
    haproxy: bool = True
    gateway_args: tuple[str, ...] = ()
    """Extra flags for every gateway, e.g. ``("--consul-ttl", "2", "--drain-period", "1")``."""
    gateway_env: tuple[tuple[str, str], ...] = ()
    """Extra environment for every gateway (secrets stay out of the process list)."""
    allowed_origins: tuple[str, ...] = ()
    """Browser origins every gateway allows (``HAWS_ALLOWED_ORIGINS``); the demo's are added."""
    demo: bool = False
    """Serve the demo chat page (``haws up`` does; test clusters need not)."""
    gateway_stop_timeout: float = 15.0
    """SIGTERM lets a gateway deregister and drain (its own drain timeout is 10 s)."""
    stop_timeout: float = 10.0
    secure: bool = False
    """Per-service NATS users and Consul ACLs (``haws.common.permissions``); no anonymous."""

    @property
    def stream_replicas(self) -> int | None:
        """A NATS cluster stores the stream on up to 3 servers; one server needs no flag."""
        return min(self.nats, 3) if self.nats > 1 else None


class LocalCluster:
    """Every component of one local cluster, sharing one data folder."""

    def __init__(self, data_dir: Path, spec: ClusterSpec | None = None) -> None:
        self.spec = spec = spec or ClusterSpec()
        self.data_dir = Path(data_dir).resolve()
        self.credentials = ClusterCredentials.generate() if spec.secure else None
        creds = self.credentials
        self.consul = ConsulAgent(
            self.data_dir, acl_management_token=creds.consul.management if creds else None
        )
        self.nats = NatsCluster(
            self.data_dir,
            spec.nats,
            auth=NatsAuth(creds.nats_passwords, creds.route_password) if creds else None,
        )
        replicas = spec.stream_replicas
        gateway_env = dict(spec.gateway_env)
        self.demo: DemoServer | None = None
        if spec.demo:
            secret = gateway_env.get("HAWS_AUTH_HS256_SECRET")
            self.demo = DemoServer(
                self.data_dir, env={"HAWS_AUTH_HS256_SECRET": secret} if secret else None
            )
        origins = merged(
            [o for o in gateway_env.get(ORIGINS_ENV, "").split(",") if o],
            spec.allowed_origins,
            self.demo.origins if self.demo else (),
        )
        if origins:
            gateway_env[ORIGINS_ENV] = ",".join(origins)
        self.allowed_origins = origins
        self.presence: list[HawsService] = self._backends("presence", spec.presence, replicas)
        self.replay: list[HawsService] = self._backends("replay", spec.replay, replicas)
        self.api: list[ApiService] = [
            ApiService(
                self.data_dir,
                name=f"api-{i}",
                nats_url=self.nats.url,
                consul_http=self.consul.http_url,
                key=spec.api_key,
                stream_replicas=replicas,
                env=creds.api_env() if creds else None,
            )
            for i in range(1, (spec.api if service_available("api") else 0) + 1)
        ]
        self.gateways = [
            Gateway(
                self.data_dir,
                name=f"gw-{i}",
                nats_url=self.nats.url,
                consul_http=self.consul.http_url,
                stream_replicas=replicas,
                extra_args=spec.gateway_args,
                env={**(creds.gateway_env() if creds else {}), **gateway_env},
            )
            for i in range(1, spec.gateways + 1)
        ]
        self.haproxy: HAProxy | None = None
        if spec.haproxy:
            self.haproxy = HAProxy(
                self.data_dir, consul_dns=self.consul.dns_address, expect_servers=spec.gateways
            )
        if self.demo is not None:
            self.demo.config = DemoConfig(
                endpoints=(self.haproxy.ws_url,)
                if self.haproxy
                else tuple(g.ws_url for g in self.gateways),
                auth=gateway_env.get("HAWS_AUTH_MODE", "anonymous"),
                nodes=tuple(
                    {"node": g.name, "url": g.ws_url, "http": g.http_url} for g in self.gateways
                ),
            )
        self._reported: set[int] = set()

    def _backends(self, command: str, count: int, replicas: int | None) -> list[HawsService]:
        if not service_available(command):
            return []
        return [
            backend_service(
                self.data_dir,
                command,
                name=f"{command}-{i}",
                nats_url=self.nats.url,
                stream_replicas=replicas,
                env=self.credentials.nats_env(command) if self.credentials else None,
            )
            for i in range(1, count + 1)
        ]

    def stages(self) -> list[tuple[str, list[Component]]]:
        """Start order; members of one stage start together."""
        front: list[Component] = [*self.gateways]
        if self.haproxy is not None:
            front.append(self.haproxy)
        if self.demo is not None:
            front.append(self.demo)
        stages: list[tuple[str, list[Component]]] = [
            ("consul, nats", [self.consul, *self.nats.servers]),
            ("presence, replay, api", [*self.presence, *self.replay, *self.api]),
            (
                "gateways"
                + (", haproxy" if self.haproxy else "")
                + (", demo" if self.demo else ""),
                front,
            ),
        ]
        return [(label, members) for label, members in stages if members]

    def components(self) -> list[Component]:
        return [member for _, members in self.stages() for member in members]

    def clear(self) -> None:
        """Remove what an earlier run left in the folders this cluster owns."""
        for component in self.components():
            shutil.rmtree(component.home, ignore_errors=True)
            component.log_path.unlink(missing_ok=True)

    def start(
        self,
        timeout: float = 60.0,
        *,
        abort: Callable[[], bool] | None = None,
        on_stage: Callable[[str], None] | None = None,
    ) -> None:
        """Start stage by stage under one deadline; on any failure stop what started."""
        deadline = time.monotonic() + timeout
        if self.credentials is not None:
            self.credentials.write(self.data_dir)
        try:
            for label, members in self.stages():
                if on_stage is not None:
                    on_stage(label)
                for member in members:
                    member.spawn()
                wait_ready_all(members, deadline - time.monotonic(), abort=abort)
                if self.consul in members and self.credentials is not None:
                    # Tokens exist before the first gateway registers.
                    apply_consul_acl(self.consul.http_url, self.credentials.consul)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Reverse order; SIGTERM each stage at once, SIGKILL what outlives its timeout."""
        spec = self.spec
        if self.demo is not None:
            self.demo.stop(spec.stop_timeout)
        if self.haproxy is not None:
            self.haproxy.stop(spec.stop_timeout)
        stop_all([g.process for g in self.gateways], spec.gateway_stop_timeout)
        backends = [*self.presence, *self.replay, *self.api]
        stop_all([s.process for s in backends], spec.stop_timeout)
        self.nats.stop(spec.stop_timeout)
        self.consul.stop(spec.stop_timeout)

    def kill(self) -> None:
        """SIGKILL everything now (a second Ctrl-C)."""
        for component in self.components():
            component.kill()

    def newly_exited(self) -> list[Component]:
        """Components that died since the last call (each process reported once).

        Keyed by pid, not name: a gateway that was restarted and dies again is news.
        """
        dead = [
            c
            for c in self.components()
            if c.pid is not None and not c.alive and c.pid not in self._reported
        ]
        self._reported.update(c.pid for c in dead if c.pid is not None)
        return dead

    def rolling_restart(
        self,
        timeout: float = 120.0,
        *,
        abort: Callable[[], bool] | None = None,
        progress: Progress | None = None,
    ) -> list[GatewayRestart]:
        """Replace every gateway, one at a time, with a new process on the same port and name.

        Each step: SIGTERM (the node deregisters and drains its clients with
        ``reconnect`` and 4000), start it again, wait for ``/ready`` 200 and, when
        HAProxy runs, for HAProxy's own check to pass on it; then the next. The
        whole procedure is under ``timeout``; the module ``haws.cluster.rolling``
        tells the details. Raises ``RollingRestartFailed`` if a node does not
        come back, ``Aborted`` when ``abort()`` turns true.
        """
        return _rolling_restart(
            self.gateways,
            self.haproxy,
            timeout=timeout,
            stop_timeout=self.spec.gateway_stop_timeout,
            abort=abort,
            progress=progress,
        )

    def describe(self) -> dict[str, Any]:
        """The ``haws up --json`` document."""
        return {
            "gateways": [g.describe() for g in self.gateways],
            "nats": self.nats.describe(),
            "consul": self.consul.describe(),
            "haproxy": self.haproxy.describe() if self.haproxy is not None else None,
            "demo": self.demo.url if self.demo is not None else None,
            "allowed_origins": list(self.allowed_origins),
            "presence": [s.describe() for s in self.presence],
            "replay": [s.describe() for s in self.replay],
            "api": {"url": self.api[0].url, "key": self.spec.api_key} if self.api else None,
            "api_replicas": [s.describe() for s in self.api],
            "data_dir": str(self.data_dir),
            "credentials": (
                str(self.data_dir / CREDENTIALS_FILE) if self.credentials is not None else None
            ),
            "logs": str(self.data_dir / "logs"),
        }

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
