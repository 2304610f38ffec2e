"""``wss://``: the gateway's TLS context from a certificate and key file.

TLS 1.2 at least, the ``ssl`` module's default cipher choice otherwise. Most
deployments terminate TLS at a load balancer; this is for the ones that do not
(and for encrypting the hop behind it).
"""

from __future__ import annotations

import ssl

from haws.gateway.settings import GatewaySettings


def server_context(settings: GatewaySettings) -> ssl.SSLContext | None:
    """The TLS context when ``tls_cert_file`` and ``tls_key_file`` are set, else None."""
    if not settings.tls_cert_file:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file)
    return context
