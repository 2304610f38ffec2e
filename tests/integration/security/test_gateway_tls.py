"""``wss://`` with a certificate generated here: a client that trusts it gets the
protocol; a plain ``ws://`` client gets nothing."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.security.conftest import OpenWs, StartGateway

pytestmark = pytest.mark.integration


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def test_wss_with_a_self_signed_certificate(
    gateway_with: StartGateway, open_ws: OpenWs, tmp_path: Path, topic: str
) -> None:
    cert_file, key_file = self_signed(tmp_path)
    async with gateway_with(tls_cert_file=str(cert_file), tls_key_file=str(key_file)) as gw:
        s = gw.deps.settings
        trusting = ssl.create_default_context(cafile=str(cert_file))
        client = await open_ws(f"wss://{s.host}:{s.port}/ws", ssl=trusting)
        assert (await client.hello())["op"] == "welcome"
        await client.sub(topic)
        await client.pub(topic, "over tls")
        assert (await client.wait_msgs(topic, 1))[0]["data"] == "over tls"

        # Not trusting the certificate: the TLS handshake fails.
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await open_ws(f"wss://{s.host}:{s.port}/ws")
        # Plain text to the TLS port: no WebSocket.
        with pytest.raises((aiohttp.ClientError, ConnectionError)):
            await open_ws(f"ws://{s.host}:{s.port}/ws")
