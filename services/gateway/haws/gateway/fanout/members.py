"""A topic's subscriptions by connection, and which of them are not live.

A topic writes the messages of one event-loop iteration to its live subscribers
in the flush pass (``SharedRun``), not message by message. Who is a live
subscriber must therefore not change between a message and that pass without
the run being written first: a subscription registered after a message must not
get it, one that went live has it from its catch-up already, one that stopped
(taken over) or left got it before it stopped. Every change here (added,
removed, gone live, stopped) calls ``before_change`` first, which writes the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping, ValuesView

from haws.gateway.fanout.subscriber import Subscriber
from haws.gateway.fanout.subscription import Subscription


class Members(MutableMapping[Subscriber, Subscription]):
    __slots__ = ("_all", "_before_change", "holding")

    def __init__(self, before_change: Callable[[], None]) -> None:
        self._all: dict[Subscriber, Subscription] = {}
        self._before_change = before_change
        self.holding: dict[Subscriber, Subscription] = {}
        """The subscriptions that are not live: catching up (their buffer takes
        each message as it arrives) or stopped. Usually none."""

    def __getitem__(self, conn: Subscriber) -> Subscription:
        return self._all[conn]

    def __iter__(self) -> Iterator[Subscriber]:
        return iter(self._all)

    def __len__(self) -> int:
        return len(self._all)

    def __setitem__(self, conn: Subscriber, sub: Subscription) -> None:
        self._before_change()
        old = self._all.get(conn)
        if old is not None and old is not sub:
            old.watch(None)
        self._all[conn] = sub
        sub.watch(self._live_changed)
        if sub.live:
            self.holding.pop(conn, None)
        else:
            self.holding[conn] = sub

    def __delitem__(self, conn: Subscriber) -> None:
        sub = self._all[conn]
        self._before_change()
        del self._all[conn]
        self.holding.pop(conn, None)
        sub.watch(None)

    def subscriptions(self) -> ValuesView[Subscription]:
        """Every subscription, live or not (the dict's own view: the fan-out loop)."""
        return self._all.values()

    @property
    def live_count(self) -> int:
        return len(self._all) - len(self.holding)

    def _live_changed(self, sub: Subscription, live: bool) -> None:
        self._before_change()
        if live:
            self.holding.pop(sub.conn, None)
        else:
            self.holding[sub.conn] = sub
