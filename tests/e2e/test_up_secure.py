"""``haws up --secure``: every service on its own NATS user and Consul token, and it all works.

One cluster (3 NATS nodes with authenticated routes, 2 gateways, presence, replay,
the server API, HAProxy) serves the module: messages cross nodes, a session
resumes on the other gateway, presence is seen from both, an API publish reaches
a WebSocket client and the API's ``info`` lists the gateways through its own
Consul token; then the rights themselves: neither a gateway's nor the api's user
can write the presence bucket, a gateway's cannot delete the stream, a
connection without credentials is refused, and the services never needed a
subject they lack (no permission violation by them in any NATS log).
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import aiohttp
import nats
import nats.errors
import nats.js.errors
import pytest
from nats.aio.client import Client as NatsClient

from haws.cluster import service_available
from haws.cluster.process import spawn
from haws.common import names
from haws.common.permissions import role_for
from haws.common.session_record import SessionRecord
from tests.support.client_pool import ClientPool
from tests.support.waiting import eventually
from tests.support.ws_client import assert_chain

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not service_available("gateway"), reason="haws.gateway is not written"),
]

HAWS = Path(sys.executable).parent / "haws"
START_TIMEOUT = 90.0
INTRUDER = "haws-test-intruder"
"""Client name of this test's own NATS connections, so their violations are told apart."""


@dataclass
class SecureCluster:
    info: dict[str, Any]
    credentials: dict[str, Any]

    @property
    def gateways(self) -> list[str]:
        return [g["url"] for g in self.info["gateways"]]

    @property
    def nats_url(self) -> list[str]:
        return [server["url"] for server in self.info["nats"]]

    def password(self, role: str) -> str:
        return str(self.credentials["nats_passwords"][role])

    def nats_logs(self) -> str:
        logs = Path(self.info["logs"])
        return "".join(path.read_text() for path in sorted(logs.glob("nats-*.log")))


@pytest.fixture(scope="module")
def secure_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureCluster]:
    data_dir = tmp_path_factory.mktemp("secure")
    stderr_path = data_dir.parent / f"{data_dir.name}.stderr"
    with stderr_path.open("w") as stderr:
        process = spawn(
            [str(HAWS), "up", "--json", "--secure", "--nats", "3", "--data-dir", str(data_dir)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    lines: list[str] = []
    stdout = process.stdout
    assert stdout is not None
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(START_TIMEOUT)
    try:
        if not lines or not lines[0]:
            pytest.fail(f"haws up --secure gave no JSON line: {stderr_path.read_text()[-3000:]}")
        info = json.loads(lines[0])
        credentials = json.loads(Path(info["credentials"]).read_text())
        assert Path(info["credentials"]).stat().st_mode & 0o077 == 0, "secrets readable by others"
        yield SecureCluster(info, credentials)
    finally:
        process.terminate()
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        stdout.close()


@pytest.fixture
async def clients() -> AsyncIterator[ClientPool]:
    async with ClientPool() as pool:
        yield pool


async def connect_as(cluster: SecureCluster, role: str) -> NatsClient:
    chosen = role_for(role)
    return await nats.connect(
        servers=cluster.nats_url,
        name=INTRUDER,
        user=chosen.user,
        password=cluster.password(role),
        inbox_prefix=chosen.inbox_prefix,
        allow_reconnect=False,
        connect_timeout=2,
    )


async def test_messages_cross_gateways_and_haproxy(
    secure_cluster: SecureCluster, clients: ClientPool
) -> None:
    topic = f"sec.{uuid4().hex[:8]}"
    first, second = secure_cluster.gateways
    subscriber = await clients.open(first)
    await subscriber.sub(topic)
    publisher = await clients.open(second)
    ack = await publisher.pub(topic, {"x": 1})
    assert ack["op"] == "ack", ack
    [msg] = await subscriber.wait_msgs(topic, 1)
    assert (msg["seq"], msg["prev"], msg["data"]) == (ack["seq"], 0, {"x": 1})
    if secure_cluster.info["haproxy"] is not None:
        # HAProxy finds the gateways through Consul DNS: the agent's default token.
        through = await clients.open(secure_cluster.info["haproxy"]["url"])
        await through.sub(topic)
        again = await publisher.pub(topic, {"x": 2})
        msgs = await through.wait_msgs(topic, 1)
        assert msgs[0]["seq"] == again["seq"]


async def test_gateways_list_each_other_through_consul_with_their_token(
    secure_cluster: SecureCluster,
) -> None:
    http = secure_cluster.info["gateways"][0]["http"]
    async with aiohttp.ClientSession() as session, session.get(f"{http}/v1/gateways") as reply:
        nodes = {entry["node"] for entry in await reply.json()}
    assert nodes == {g["name"] for g in secure_cluster.info["gateways"]}


async def api_call(cluster: SecureCluster, method: str, body: dict[str, Any]) -> Any:
    api = cluster.info["api"]
    assert api is not None, "haws up --secure starts the server API"
    headers = {"Authorization": f"Bearer {api['key']}"}
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(f"{api['url']}/{method}", json=body, headers=headers) as reply,
    ):
        assert reply.status == 200, await reply.text()
        return await reply.json()


async def test_an_api_publish_reaches_a_websocket_client(
    secure_cluster: SecureCluster, clients: ClientPool
) -> None:
    topic = f"sec.{uuid4().hex[:8]}"
    subscriber = await clients.open(secure_cluster.gateways[0])
    await subscriber.sub(topic)
    stored = await api_call(secure_cluster, "publish", {"topic": topic, "data": {"from": "api"}})
    assert stored["dup"] is False
    [msg] = await subscriber.wait_msgs(topic, 1)
    assert (msg["seq"], msg["data"]) == (stored["seq"], {"from": "api"})


async def test_api_info_lists_the_gateways_with_its_own_consul_token(
    secure_cluster: SecureCluster,
) -> None:
    expected = {g["name"] for g in secure_cluster.info["gateways"]}

    async def listed() -> bool:
        report = await api_call(secure_cluster, "info", {})
        assert "nodes" not in report["errors"], report
        return {node["node"] for node in report["nodes"]} == expected

    await eventually(listed, interval=0.2, message="info lists both gateways")
    # The api's token is a reader: it sees the gateways and cannot register one.
    consul = secure_cluster.info["consul"]["http"]
    token = secure_cluster.credentials["consul"]["api"]
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    health = urllib.request.Request(
        f"{consul}/v1/health/service/{names.GATEWAY_SERVICE}?passing=1",
        headers={"X-Consul-Token": token},
    )
    with opener.open(health, timeout=5) as reply:
        assert len(json.load(reply)) == len(expected)
    body = json.dumps({"Name": names.GATEWAY_SERVICE, "ID": "api-intruder", "Port": 1}).encode()
    register = urllib.request.Request(
        f"{consul}/v1/agent/service/register",
        data=body,
        method="PUT",
        headers={"X-Consul-Token": token},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(register, timeout=5)
    refused.value.close()
    assert refused.value.code == 403


async def stored_topics(nc: NatsClient, session: str) -> list[str]:
    """The topics of ``session``'s stored record, read as a gateway reads it."""
    subject = names.kv_key_prefix(names.KV_SESSIONS) + session
    reply = await nc.request(
        names.stream_api("MSG.GET", names.kv_stream(names.KV_SESSIONS)),
        json.dumps({"last_by_subj": subject}).encode(),
        timeout=5,
    )
    message = json.loads(reply.data).get("message")
    if message is None:
        return []
    return sorted(SessionRecord.decode(base64.b64decode(message["data"])).subs)


async def test_session_resumes_on_the_other_gateway(
    secure_cluster: SecureCluster, clients: ClientPool
) -> None:
    topic = f"sec.{uuid4().hex[:8]}"
    first, second = secure_cluster.gateways
    publisher = await clients.open(second)
    client = await clients.open(first)
    session = client.others[0]["session"]
    await client.sub(topic)
    seen = await publisher.pub(topic, "seen")
    await client.wait_msgs(topic, 1)
    await client.close()
    # Resumed within milliseconds, before the first gateway's final write landed, the
    # hello finds no record (``resumed: false``; the cursors still restore the topic).
    reader = await connect_as(secure_cluster, "gateway")

    async def stored() -> bool:
        return topic in await stored_topics(reader, session)

    try:
        await eventually(stored, message="the first gateway stored the session's record")
    finally:
        await reader.close()
    missed = [await publisher.pub(topic, n) for n in range(3)]

    again = await clients.open(second, session=session, cursors={topic: seen["seq"]})
    assert again.others[0]["resumed"] is True
    await again.recv("recovered")
    msgs = await again.wait_msgs(topic, 3)
    assert [m["seq"] for m in msgs] == [a["seq"] for a in missed]
    assert_chain(msgs, first_prev=seen["seq"])


async def test_presence_is_seen_from_both_gateways(
    secure_cluster: SecureCluster, clients: ClientPool
) -> None:
    topic = f"sec.{uuid4().hex[:8]}"
    first, second = secure_cluster.gateways
    alice = await clients.open(first)
    await alice.sub(topic, presence=True)
    bob = await clients.open(second)
    await bob.sub(topic, presence=True)
    bob_session = bob.others[0]["session"]

    def alice_saw_bob() -> bool:
        return any(
            f.get("op") == "join" and f["who"]["session"] == bob_session for f in alice.others
        )

    await eventually(alice_saw_bob, message="alice sees bob join across gateways")
    reply = await bob.request({"op": "presence", "topic": topic})
    assert {m["session"] for m in reply["members"]} == {
        alice.others[0]["session"],
        bob_session,
    }


async def test_gateway_user_cannot_write_presence_or_delete_the_stream(
    secure_cluster: SecureCluster,
) -> None:
    nc = await connect_as(secure_cluster, "gateway")
    try:
        # A refused request gets no reply: it ends at the timeout.
        js = nc.jetstream(timeout=1)
        # What a gateway does need still works: the test is not vacuous.
        ack = await js.publish(names.topic_subject(f"sec.{uuid4().hex[:8]}"), b"allowed", timeout=5)
        assert ack.stream == names.STREAM
        with pytest.raises((nats.errors.TimeoutError, nats.errors.Error)):
            await js.delete_stream(names.STREAM)
        with pytest.raises((nats.errors.TimeoutError, nats.errors.Error)):
            await js.publish("$KV.HAWS_PRESENCE.own.intruder", b"forged")
        with pytest.raises((nats.errors.TimeoutError, nats.errors.Error)):
            await js.purge_stream(names.STREAM)
    finally:
        await nc.close()
    replay = await connect_as(secure_cluster, "replay")
    try:
        info = await replay.jetstream(timeout=2).stream_info(names.STREAM)
        assert info.state.messages >= 1, "the stream survived with its messages"
    finally:
        await replay.close()
    logs = secure_cluster.nats_logs()
    assert "STREAM.DELETE.HAWS" in logs, "the server refused the delete (permission violation)"


async def test_api_user_cannot_write_presence(secure_cluster: SecureCluster) -> None:
    nc = await connect_as(secure_cluster, "api")
    try:
        js = nc.jetstream(timeout=1)
        ack = await js.publish(names.topic_subject(f"sec.{uuid4().hex[:8]}"), b"allowed", timeout=5)
        assert ack.stream == names.STREAM, "what the api does need still works"
        with pytest.raises((nats.errors.TimeoutError, nats.errors.Error)):
            await js.publish("$KV.HAWS_PRESENCE.own.api-intruder", b"forged")
    finally:
        await nc.close()
    assert "$KV.HAWS_PRESENCE.own.api-intruder" in secure_cluster.nats_logs(), "refused"


@pytest.mark.parametrize(
    "credentials",
    [{}, {"user": "haws-gateway", "password": "wrong"}, {"user": "nobody", "password": "x"}],
    ids=["anonymous", "wrong-password", "unknown-user"],
)
async def test_connections_without_valid_credentials_are_refused(
    secure_cluster: SecureCluster, credentials: dict[str, str]
) -> None:
    """Spoken in the NATS protocol itself: what any client, not only nats-py, is told."""
    url = urlsplit(secure_cluster.nats_url[0])
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        async with asyncio.timeout(10):
            info = json.loads((await reader.readline()).decode().removeprefix("INFO "))
            assert info["auth_required"] is True
            login = {"verbose": False, "pedantic": False, "name": INTRUDER, **credentials}
            if "password" in login:
                login["pass"] = login.pop("password")
            writer.write(f"CONNECT {json.dumps(login)}\r\nPING\r\n".encode())
            await writer.drain()
            answer = (await reader.readline()).decode()
            assert answer.startswith("-ERR 'Authorization Violation'"), answer
            assert await reader.read() == b"", "the server hung up"
    finally:
        writer.close()
        await writer.wait_closed()


def test_consul_refuses_a_registration_without_the_gateway_token(
    secure_cluster: SecureCluster,
) -> None:
    url = secure_cluster.info["consul"]["http"] + "/v1/agent/service/register"
    body = json.dumps({"Name": names.GATEWAY_SERVICE, "ID": "intruder", "Port": 1}).encode()
    request = urllib.request.Request(url, data=body, method="PUT")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(request, timeout=5)
    refused.value.close()  # the error holds the response (and its socket) open
    assert refused.value.code == 403


def test_every_connection_to_every_nats_server_is_a_haws_user(
    secure_cluster: SecureCluster,
) -> None:
    users = {role_for(name).user for name in ("gateway", "presence", "replay", "api")}
    seen: set[str] = set()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for server in secure_cluster.info["nats"]:
        with opener.open(f"{server['monitor']}/connz?auth=true&limit=1024", timeout=5) as reply:
            connections = json.load(reply)["connections"] or []
        for connection in connections:
            assert connection.get("authorized_user") in users, connection
            seen.add(connection["authorized_user"])
    assert seen == users, "gateways, presence, replay and api are all connected, each as itself"


def test_services_never_hit_a_permission_they_lack(secure_cluster: SecureCluster) -> None:
    """Run last in the module: everything above exercised the services' subjects."""
    violations = [
        line
        for line in secure_cluster.nats_logs().splitlines()
        if "Violation" in line and INTRUDER not in line
    ]
    assert not violations, "\n".join(violations[:10])
