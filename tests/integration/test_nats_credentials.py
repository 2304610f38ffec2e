"""The NATS credential and TLS settings, through ``haws.common.nats_connection.connect``.

A real nats-server with the users of ``haws.common.permissions`` and TLS from a
throwaway CA: a service with the right user, password and CA file connects
and declares the stream; a wrong CA or a wrong password is refused with an
error in the service's log (it keeps retrying: the broker may be the one at fault).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from haws.cluster.credentials import ClusterCredentials
from haws.cluster.nats import NatsAuth, NatsServer
from haws.common import names
from haws.common.nats_connection import connect
from haws.common.permissions import REPLAY
from haws.common.settings import NatsSettings
from haws.common.streams import ensure_stream
from tests.support.certificates import CertificateFiles, make_certificates
from tests.support.waiting import eventually


class TlsNatsServer(NatsServer):
    """The secure-mode server of ``haws up --secure`` with client TLS on top."""

    def __init__(self, data_dir: Path, auth: NatsAuth, tls: CertificateFiles) -> None:
        super().__init__(data_dir, name="nats-tls", auth=auth)
        self.tls = tls

    def argv(self) -> list[str]:
        files = ["--tlscert", str(self.tls.cert), "--tlskey", str(self.tls.key)]
        return [*super().argv(), "--tls", *files]


@pytest.fixture(scope="module")
def credentials() -> ClusterCredentials:
    return ClusterCredentials.generate()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_server(
    tmp_path_factory: pytest.TempPathFactory,
    credentials: ClusterCredentials,
    certificates: CertificateFiles,
) -> Iterator[TlsNatsServer]:
    auth = NatsAuth(credentials.nats_passwords, credentials.route_password)
    with TlsNatsServer(tmp_path_factory.mktemp("nats"), auth, certificates) as server:
        yield server


def replay_settings(
    server: TlsNatsServer, credentials: ClusterCredentials, **overrides: str
) -> NatsSettings:
    values: dict[str, Any] = {
        "nats_url": (f"tls://127.0.0.1:{server.port}",),
        "nats_user": REPLAY.user,
        "nats_password": credentials.nats_passwords["replay"],
        "nats_inbox_prefix": REPLAY.inbox_prefix,
        "nats_max_reconnect": 0,
        **overrides,
    }
    return dataclasses.replace(NatsSettings(), **values)


async def test_a_service_connects_with_its_user_over_tls_and_declares_the_stream(
    tls_server: TlsNatsServer, credentials: ClusterCredentials, certificates: CertificateFiles
) -> None:
    settings = replay_settings(tls_server, credentials, nats_tls_ca_file=str(certificates.ca))
    nc = await connect(settings, name="haws-replay tls-test")
    try:
        assert nc.connected_url is not None
        assert nc.connected_url.scheme == "tls"
        await ensure_stream(nc.jetstream(timeout=2), settings)
        info = await nc.jetstream(timeout=2).stream_info(names.STREAM)
        assert info.config.name == names.STREAM
    finally:
        await nc.close()


def logged_errors(caplog: pytest.LogCaptureFixture) -> str:
    return " ".join(
        str(getattr(r, "fields", {}).get("error", ""))
        for r in caplog.records
        if r.getMessage() == "nats.error"
    ).lower()


async def refused(settings: NatsSettings, caplog: pytest.LogCaptureFixture, why: str) -> None:
    """A service keeps retrying (NATS may come back) and logs why, each time, meanwhile."""
    caplog.set_level(logging.WARNING, logger="haws.nats")
    task = asyncio.ensure_future(connect(settings, name="haws-replay refused"))
    try:
        await eventually(lambda: why in logged_errors(caplog), message=f"nats.error says {why}")
    finally:
        task.cancel()
        results = await asyncio.gather(task, return_exceptions=True)
        for result in results:
            if isinstance(result, NatsClient):
                await result.close()
                pytest.fail("connected although it should have been refused")


async def test_a_server_the_ca_did_not_sign_is_refused(
    tls_server: TlsNatsServer,
    credentials: ClusterCredentials,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stranger = make_certificates(tmp_path / "other-ca")
    settings = replay_settings(tls_server, credentials, nats_tls_ca_file=str(stranger.ca))
    await refused(settings, caplog, "certificate verify failed")


async def test_a_wrong_password_is_refused_even_over_tls(
    tls_server: TlsNatsServer,
    credentials: ClusterCredentials,
    certificates: CertificateFiles,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = replay_settings(
        tls_server, credentials, nats_tls_ca_file=str(certificates.ca), nats_password="wrong"
    )
    await refused(settings, caplog, "authorization violation")
