"""Hostile frames: deep nesting, payloads other codecs cannot carry, compression bombs.

Each test keeps a JSON subscriber on the same topic and checks its chain of
messages is intact afterwards: one client's input must not break delivery.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgpack
import pytest

from tests.integration.conftest import Connect
from tests.integration.security.conftest import OpenWs, StartGateway
from tests.support.gateway_runner import RunningGateway
from tests.support.ws_client import MSGPACK, WsClient, assert_chain

pytestmark = pytest.mark.integration


def nested(depth: int) -> list[object]:
    value: list[object] = []
    for _ in range(depth - 1):
        value = [value]
    return value


@dataclass
class Watcher:
    """A JSON subscriber of the topic and the seq its subscription started after."""

    client: WsClient
    first_prev: int


async def still_delivers(
    gw: RunningGateway, watcher: Watcher, connect: Connect, topic: str
) -> None:
    publisher = await connect(gw.url)
    await publisher.pub(topic, "after")
    msgs = await watcher.client.wait_msgs(topic, 1)
    assert [m["data"] for m in msgs] == ["after"]  # nothing refused was stored
    assert_chain(msgs, first_prev=watcher.first_prev)


@pytest.fixture
async def watcher(gateway: RunningGateway, connect: Connect, topic: str) -> Watcher:
    client = await connect(gateway.url)
    return Watcher(client, (await client.sub(topic))["seq"])


async def test_10000_level_nested_json_closes_4002(
    gateway: RunningGateway, watcher: Watcher, connect: Connect, topic: str
) -> None:
    deep = "[" * 10_000 + "]" * 10_000
    client = await connect(gateway.url)
    await client.send_raw(f'{{"op":"pub","id":1,"topic":"{topic}","data":{deep}}}')
    assert await client.wait_closed() == 4002
    await still_delivers(gateway, watcher, connect, topic)


async def test_10000_level_nested_msgpack_closes_4002(
    gateway: RunningGateway, watcher: Watcher, connect: Connect, topic: str
) -> None:
    head = msgpack.packb({"op": "pub", "id": 1, "topic": topic})
    # The same map plus "data": 10,000 nested one-element arrays, written by hand
    # (msgpack's own packer refuses that depth).
    frame = b"\x84" + head[1:] + msgpack.packb("data") + b"\x91" * 10_000 + b"\xc0"
    client = await connect(gateway.url, protocol=MSGPACK)
    await client.send_raw(frame)
    assert await client.wait_closed() == 4002
    await still_delivers(gateway, watcher, connect, topic)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("ext type", msgpack.ExtType(42, b"boom")),
        ("timestamp", msgpack.Timestamp(1, 0)),
        ("binary map key", {b"k": 1}),
        ("300 levels", nested(300)),
    ],
)
async def test_payloads_json_subscribers_cannot_take_are_refused_not_stored(
    gateway: RunningGateway,
    watcher: Watcher,
    connect: Connect,
    topic: str,
    name: str,
    data: object,
) -> None:
    client = await connect(gateway.url, protocol=MSGPACK)
    reply = await client.pub(topic, data)
    assert (reply["op"], reply["code"]) == ("error", "bad_request"), name
    await still_delivers(gateway, watcher, connect, topic)


async def test_compression_is_off_by_default(gateway: RunningGateway, open_ws: OpenWs) -> None:
    client = await open_ws(gateway.url, compress=15)
    assert client.ws.compress == 0


async def test_compression_is_capped_and_bombs_close_1009(
    gateway_with: StartGateway, open_ws: OpenWs, topic: str
) -> None:
    async with gateway_with(
        compression=True, compression_max_connections=1, max_frame_bytes=4096
    ) as gw:
        deflating = await open_ws(gw.url, compress=15)
        assert deflating.ws.compress == 15
        await deflating.hello()
        assert gw.deps.metrics.compressed_connections._value.get() == 1
        plain = await open_ws(gw.url, compress=15)
        assert plain.ws.compress == 0  # over the cap: served without deflate
        await plain.hello()
        # 1 MiB of zeros deflates to about 1 KiB on the wire: inflated, it is over the limit.
        await deflating.ws.send_str(
            '{"op":"pub","id":1,"topic":"t","data":"' + "0" * (1 << 20) + '"}'
        )
        assert await deflating.wait_closed() == 1009
        assert (await plain.request({"op": "ping"}))["op"] == "pong"
