"""One error root for the cluster library, categories by inheritance.

``DeadlineExceeded`` is also a ``TimeoutError`` so callers that only care about
"it took too long" catch the built-in category without importing ours.
"""

from __future__ import annotations


class ClusterError(Exception):
    """Something went wrong starting, watching or stopping a local component."""


class BinaryNotFound(ClusterError):
    """A program the component needs (nats-server, consul, haproxy) is not installed."""


class DeadlineExceeded(ClusterError, TimeoutError):
    """A condition did not hold before its deadline."""


class ProcessExited(ClusterError):
    """A child process ended while we were waiting for it to become ready."""


class Aborted(ClusterError):
    """The caller asked to stop waiting (for example ``haws up`` got SIGINT)."""
