"""The demo chat page ``haws up`` serves: a real browser app on the JavaScript SDK.

It lives beside the cluster it demonstrates, not in the gateway: a gateway
serves the protocol, never an application's files.
"""

from haws.cluster.demo.component import DemoServer
from haws.cluster.demo.config import DemoConfig

__all__ = ["DemoConfig", "DemoServer"]
