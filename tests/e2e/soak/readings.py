"""What the soak reads every few seconds: each gateway process, the bucket, the stream.

Each gateway's figures are kept per process lifetime (its
``process_start_time_seconds``), so a restart starts a new series instead of
bending one sum over all gateways.
"""

from __future__ import annotations

from dataclasses import dataclass

import nats
from nats.errors import Error as NatsError

from haws.cluster import Gateway
from haws.common import names
from tests.e2e.chaos.probes import metrics, total

PROCESS_FIGURES = ("rss", "fds", "tasks")


@dataclass(frozen=True, slots=True)
class ProcessReading:
    gateway: str
    started: float
    """The process's start time (seconds since the epoch): one lifetime's key."""
    at: float
    rss: float
    fds: float
    tasks: float
    connections: float
    deaf: float
    """Times its canary counted it deaf in this lifetime (it moves its clients then)."""
    canary_ok: float

    @property
    def lifetime(self) -> tuple[str, float]:
        return (self.gateway, self.started)


@dataclass(frozen=True, slots=True)
class StoreReading:
    at: float
    kv_keys: float
    stream_bytes: float


async def read_gateways(gateways: list[Gateway], at: float) -> list[ProcessReading]:
    """One reading per gateway that answers; one between lives is left out."""
    found: list[ProcessReading] = []
    for gw in gateways:
        try:
            m = await metrics(gw.http_url)
        except Exception:  # a gateway between lives: absent from this reading
            continue
        found.append(
            ProcessReading(
                gw.name,
                m.get("process_start_time_seconds", 0.0),
                at,
                m.get("process_resident_memory_bytes", 0.0),
                m.get("process_open_fds", 0.0),
                m.get("haws_gateway_asyncio_tasks", 0.0),
                m.get("haws_gateway_connections", 0.0),
                total(m, "haws_gateway_canary_deaf_total"),
                m.get("haws_gateway_canary_ok", 1.0),
            )
        )
    return found


async def read_store(nats_url: str, at: float) -> StoreReading | None:
    """The session bucket's keys and the stream's bytes; ``None`` when the loaded broker
    does not answer in time (the next reading is taken)."""
    try:
        nc = await nats.connect(servers=[nats_url], connect_timeout=5)
    except (NatsError, TimeoutError, OSError):
        return None
    try:
        js = nc.jetstream(timeout=5)
        kv = await js.stream_info(f"KV_{names.KV_SESSIONS}")
        stream = await js.stream_info(names.STREAM)
    except (NatsError, TimeoutError, OSError):
        return None
    finally:
        await nc.close()
    return StoreReading(at, float(kv.state.messages), float(stream.state.bytes))
