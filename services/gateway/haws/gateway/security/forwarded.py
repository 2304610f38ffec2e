"""The client's address: the peer, or what trusted proxies say in ``X-Forwarded-For``.

Anyone can send ``X-Forwarded-For``, so it is read only when the peer is a
configured proxy, and then from the right: each trusted proxy appends the
address it saw, and the first address from the right that is not a trusted
proxy is the client. Entries further left were written by the client itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Final

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

IPV6_GROUP_PREFIX: Final = 64
"""One IPv6 client usually holds a whole /64, so per-address limits count per /64."""


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Addresses or CIDRs; ``ValueError`` for anything else."""
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())


def _address(text: str) -> IPAddress | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[IPNetwork]
) -> IPAddress | None:
    """The client's address (None when the peer is unknown)."""
    current = _address(peer) if peer else None
    if current is None or not _trusted(current, trusted):
        return current
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return current  # garbage from here leftwards: the last trusted hop's view
        current = address
        if not _trusted(address, trusted):
            return address
    return current


def _trusted(address: IPAddress, trusted: Sequence[IPNetwork]) -> bool:
    return any(address in network for network in trusted)


def limit_key(address: IPAddress | None) -> str:
    """What per-address limits count by: the IPv4 address, or the IPv6 /64."""
    if address is None:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/{IPV6_GROUP_PREFIX}", strict=False))
    return str(address)
