"""The soak runs on the chaos suite's harness (a local cluster, fleets, wire log)."""

from tests.e2e.chaos.conftest import harness

__all__ = ["harness"]
