"""Start and stop the real haws components as child processes on loopback ports.

One library serves ``haws up`` and the test fixtures, so the cluster a developer
runs is the cluster the tests prove. The API is synchronous (subprocess and
polling under a deadline) so plain pytest fixtures can use it directly.
"""

from haws.cluster.component import Component
from haws.cluster.consul import ConsulAgent
from haws.cluster.deadline import wait_until
from haws.cluster.errors import (
    Aborted,
    BinaryNotFound,
    ClusterError,
    DeadlineExceeded,
    ProcessExited,
)
from haws.cluster.haproxy import HAProxy
from haws.cluster.local import ClusterSpec, LocalCluster
from haws.cluster.nats import NatsCluster, NatsServer
from haws.cluster.ports import free_port, free_ports
from haws.cluster.process import ManagedProcess
from haws.cluster.rolling import GatewayRestart, RollingRestartFailed
from haws.cluster.services import Gateway, HawsService, service_available

__all__ = [
    "Aborted",
    "BinaryNotFound",
    "ClusterError",
    "ClusterSpec",
    "Component",
    "ConsulAgent",
    "DeadlineExceeded",
    "Gateway",
    "GatewayRestart",
    "HAProxy",
    "HawsService",
    "LocalCluster",
    "ManagedProcess",
    "NatsCluster",
    "NatsServer",
    "ProcessExited",
    "RollingRestartFailed",
    "free_port",
    "free_ports",
    "service_available",
    "wait_until",
]
