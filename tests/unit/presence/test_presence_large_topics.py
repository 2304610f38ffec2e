"""Counts-only mode: the switch with hysteresis, coalesced counts, the bounded sample."""

from __future__ import annotations

from typing import Any

import pytest

from haws.common.presence_protocol import Change, OwnerRecord
from haws.common.settings import SettingsError, build_parser
from haws.gateway.presence_relay import PresenceRelay
from haws.presence.emitter import ChangeEmitter
from haws.presence.index import PresenceIndex
from haws.presence.large_topics import CountsLimits, LargeTopics
from haws.presence.metrics import PresenceMetrics
from haws.presence.settings import PresenceSettings
from haws.presence.transitions import Grace
from tests.unit.presence.fakes import LOG, ListSink, ManualClock

TOPIC = "big"


class Topic:
    """An index, its large-topic modes and a leader's emitter, driven by record updates."""

    def __init__(self, counts_from: int = 10, sample: int = 3) -> None:
        self.clock = ManualClock()
        self.index = PresenceIndex()
        self.large = LargeTopics(
            self.index,
            CountsLimits(counts_from=counts_from, interval=1.0, sample=sample),
            grace=Grace.uniform(5.0),
            clock=self.clock,
        )
        self.sink = ListSink()
        self.emitter = ChangeEmitter(
            self.sink, PresenceMetrics(), LOG, log_size=1000, large=self.large
        )
        self.revision = 0

    async def lead(self) -> None:
        await self.emitter.activate(after=0)

    async def set(self, session: str, topics: list[str], user: str | None = None) -> None:
        self.revision += 1
        record = OwnerRecord(
            "n1", "c-" + session, 1, True, self.clock(), user=user or session, topics=topics
        )
        changes = self.index.apply(session, record, self.revision)
        await self.emitter.record(self.revision, changes)

    async def drop(self, session: str) -> None:
        self.revision += 1
        await self.emitter.record(self.revision, self.index.apply(session, None, self.revision))

    def sent(self) -> list[Change]:
        changes = self.sink.changes()
        self.sink.sent.clear()
        return changes


async def test_below_the_threshold_every_member_is_a_join() -> None:
    t = Topic(counts_from=10)
    await t.lead()
    for i in range(9):
        await t.set(f"s{i}", [TOPIC])
    assert [c.kind for c in t.sent()] == ["join"] * 9
    assert not t.large.counting(TOPIC)


async def test_crossing_the_threshold_sends_counts_at_once_then_no_joins() -> None:
    t = Topic(counts_from=10)
    await t.lead()
    for i in range(10):
        await t.set(f"s{i}", [TOPIC])
    sent = t.sent()
    assert [c.kind for c in sent] == ["join"] * 9 + ["counts"]
    assert (sent[-1].count, sent[-1].users) == (10, 10)
    for i in range(10, 15):
        await t.set(f"s{i}", [TOPIC])
    await t.drop("s0")
    assert t.sent() == []  # nothing per member while counts-only


async def test_many_joins_within_an_interval_coalesce_into_one_counts_with_the_final_totals() -> (
    None
):
    t = Topic(counts_from=10)
    await t.lead()
    for i in range(10):
        await t.set(f"s{i}", [TOPIC])
    t.sent()
    for i in range(10, 40):
        # Two sessions per user: counts members and distinct users apart.
        await t.set(f"s{i}", [TOPIC], user=f"u{i // 2}")
    await t.drop("s3")
    await t.emitter.publish_counts()
    sent = t.sent()
    assert len(sent) == 1
    assert sent[0].kind == "counts"
    assert sent[0].count == 39
    assert sent[0].users == 9 + 15  # s0..s9 minus s3, then u5..u19
    await t.emitter.publish_counts()
    assert t.sent() == []  # nothing changed: nothing sent


async def test_hysteresis_keeps_counts_mode_until_below_ninety_percent() -> None:
    t = Topic(counts_from=10)
    await t.lead()
    for i in range(12):
        await t.set(f"s{i}", [TOPIC])
    t.sent()
    for i in range(11, 8, -1):  # 12 -> 9 members: 9 is not below 90 % of 10
        await t.drop(f"s{i}")
    assert t.large.counting(TOPIC)
    await t.set("s12", [TOPIC])  # 10 again: no flip back and forth
    assert t.large.counting(TOPIC)
    await t.drop("s12")
    await t.drop("s8")  # 8 < 9: back to per-member, with the whole list
    sent = t.sent()
    assert [c.kind for c in sent] == ["members"]
    assert sorted(m["session"] for m in sent[0].members) == [f"s{i}" for i in range(8)]
    assert sent[0].count == 8
    await t.set("s20", [TOPIC])
    assert [c.kind for c in t.sent()] == ["join"]


async def test_other_topics_of_the_same_record_keep_their_joins() -> None:
    t = Topic(counts_from=3)
    await t.lead()
    for i in range(3):
        await t.set(f"s{i}", [TOPIC])
    t.sent()
    await t.set("s9", [TOPIC, "small"])
    assert [(c.kind, c.topic) for c in t.sent()] == [("join", "small")]


async def test_a_follower_knows_the_modes_and_a_new_leader_sends_every_counts() -> None:
    t = Topic(counts_from=5)
    for i in range(7):
        await t.set(f"s{i}", [TOPIC])
    assert t.large.counting(TOPIC)
    assert t.sent() == []
    await t.lead()  # re-sends the logged joins and the switch, then the counts
    kinds = [c.kind for c in t.sent()]
    assert kinds == ["join"] * 4 + ["counts"]
    await t.emitter.publish_counts()
    last = t.sent()
    assert [(c.kind, c.count) for c in last] == [("counts", 7)]


async def test_settle_after_a_silent_load_finds_the_large_topics() -> None:
    t = Topic(counts_from=5)
    for i in range(6):
        t.index.apply(f"s{i}", OwnerRecord("n1", "c", 1, True, 0.0, topics=[TOPIC]), i + 1)
    assert not t.large.counting(TOPIC)
    t.large.settle()
    assert t.large.counting(TOPIC)


async def test_the_sample_is_bounded() -> None:
    t = Topic(counts_from=5, sample=3)
    for i in range(20):
        await t.set(f"s{i}", [TOPIC])
    sample = t.large.sample(TOPIC)
    assert len(sample) == 3
    assert {m.session for m in sample} <= {f"s{i}" for i in range(20)}


async def test_zero_means_never() -> None:
    t = Topic(counts_from=0)
    await t.lead()
    for i in range(50):
        await t.set(f"s{i}", [TOPIC])
    assert [c.kind for c in t.sent()] == ["join"] * 50


def test_the_limits_have_defaults_and_settings() -> None:
    defaults = PresenceSettings()
    assert (defaults.presence_counts_from, defaults.presence_sample) == (1000, 100)
    assert defaults.presence_counts_interval == 1.0
    assert CountsLimits(counts_from=20).back_below == 18
    usage = build_parser(PresenceSettings).format_help()  # help text is %-formatted
    assert "--presence-counts-from" in usage
    assert "HAWS_PRESENCE_SAMPLE" in usage
    parsed = build_parser(PresenceSettings).parse_args(["--presence-counts-from", "20"])
    assert parsed.presence_counts_from == "20"


def test_the_gateway_relays_counts_and_drops_older_ones() -> None:
    relay = PresenceRelay(TOPIC)
    newer = Change("counts", TOPIC, "", revision=9, count=30, users=12)
    older = Change("counts", TOPIC, "", revision=7, count=25, users=11)
    assert relay.frame(newer) == {
        "op": "counts",
        "topic": TOPIC,
        "count": 30,
        "users": 12,
        "mode": "counts",
    }
    assert relay.frame(older) is None
    back = Change(
        "members",
        TOPIC,
        "",
        revision=10,
        count=1,
        users=1,
        members=[{"session": "a", "node": "n", "user": None}],
    )
    assert relay.frame(back) == {
        "op": "counts",
        "topic": TOPIC,
        "count": 1,
        "users": 1,
        "mode": "members",
        "members": [{"session": "a", "node": "n"}],
    }


@pytest.mark.parametrize(
    "bad",
    [
        {"presence_counts_from": -1},
        {"presence_counts_interval": 0.0},
        {"presence_sample": 0},
    ],
)
def test_the_limits_refuse_what_makes_no_sense(bad: dict[str, Any]) -> None:
    with pytest.raises(SettingsError):
        PresenceSettings(**bad).validate()
