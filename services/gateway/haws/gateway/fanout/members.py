"""A topic's subscriptions by connection, and which of them are not live.

A topic writes the messages of one event-loop iteration to its live subscribers
in the flush pass (``SharedRun``), not message by message. Who is a live
subscriber may change between a message and that pass, and each change keeps
what the subscriber gets exact:

- one that left, or stopped (taken over), got the run's messages before it went:
  ``before_change`` writes the run first;
- one that joined the live set (registered live, or gone live after its
  catch-up) must not get the run's earlier messages: a later registration did
  not ask for them, a catch-up delivered them already. ``joined`` marks where
  it starts (``Subscription.live_from``), and the run skips what lies before.

Joining used to write the run at once, as leaving does. In a failover every
resumed client goes live on a survivor, and each of those writes sent the
pending message to every other subscriber in a write of its own: 20% of a
survivor's CPU in failover-2500, and no flush pass could gather more than one
message per write while resumes went on (``delivery.load``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping, ValuesView

from haws.gateway.fanout.subscriber import Subscriber
from haws.gateway.fanout.subscription import Subscription


class Members(MutableMapping[Subscriber, Subscription]):
    __slots__ = ("_all", "_before_change", "_joined", "holding")

    def __init__(
        self, before_change: Callable[[], None], joined: Callable[[Subscription], None]
    ) -> None:
        self._all: dict[Subscriber, Subscription] = {}
        self._before_change = before_change
        self._joined = joined
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
        old = self._all.get(conn)
        if old is not None and old is not sub:
            self._before_change()  # the replaced subscription gets what it was due
            old.watch(None)
        self._all[conn] = sub
        sub.watch(self._live_changed)
        if sub.live:
            self._joined(sub)
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
        if live:
            self._joined(sub)
            self.holding.pop(sub.conn, None)
        else:
            self._before_change()
            self.holding[sub.conn] = sub
