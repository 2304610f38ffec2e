"""Server-side error categories, under the one root that ``haws.protocol.errors`` owns.

Kept out of the protocol layer because only services talk to JetStream; the SDK
distribution ships ``haws.protocol`` and never needs these.
"""

from __future__ import annotations

from haws.protocol.errors import HawsError


class StreamError(HawsError):
    """JetStream could not be read or written."""
