"""What each kept library hook buys, measured: ``python -m bench.hooks``.

- nats-py ``_process_msg`` (``haws.common.raw_replies``): history pages read by
  ``StreamReader`` from a real nats-server, once through the tap and once the
  ordinary nats-py way (``tap_for`` made to find no hook), same messages, same
  server; CPU of this process per message read.
- aiohttp flow control (``delivery.peer``): the public ``writing_paused``
  property the flush pass reads after every write, against the private
  ``_paused`` attribute it read before (no hook is kept there; this says what
  giving it up cost).

Figures, never pass/fail; the machine's other load moves them.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import timeit
from pathlib import Path

import nats
from aiohttp import web

from haws.cluster.nats import NatsServer
from haws.common import names, stream_reader
from haws.common.settings import NatsSettings
from haws.common.stream_reader import StreamReader
from haws.common.streams import ensure_stream

TOPIC = "bench.hooks"


async def _read_all(url: str, *, tapped: bool, rounds: int) -> tuple[int, float]:
    """Messages read and CPU seconds spent reading them ``rounds`` times."""
    # The ordinary path is what StreamReader takes when ``tap_for`` finds no hook.
    namespace = vars(stream_reader)
    original = namespace["tap_for"]
    if not tapped:
        namespace["tap_for"] = lambda nc: None
    nc = await nats.connect(url)
    reader = StreamReader(nc, timeout=10)
    try:
        await reader.start()
        read = 0
        started = time.process_time()
        for _ in range(rounds):
            after = 0
            while True:
                page = await reader.read(TOPIC, after)
                read += len(page.messages)
                if not page.messages:
                    break
                after = page.messages[-1].seq
        return read, time.process_time() - started
    finally:
        namespace["tap_for"] = original
        await reader.stop()
        await nc.close()


async def _raw_replies(messages: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, NatsServer(Path(tmp), name="bench-hooks") as server:
        nc = await nats.connect(server.url)
        js = nc.jetstream(timeout=10)
        await ensure_stream(js, NatsSettings())
        body = b'{"text":"' + b"x" * 200 + b'"}'
        headers = {
            names.HDR_FROM: "bench",
            "traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01",
        }
        pending = [
            await js.publish_async(names.topic_subject(TOPIC), body, headers=headers)
            for _ in range(messages)
        ]
        await asyncio.gather(*pending)
        await nc.close()
        print(f"raw_replies: {messages} stored messages of one topic, read {rounds}x per run")
        for label, tapped in (("tap (kept)", True), ("nats-py path", False)):
            best = None
            for _ in range(3):
                read, cpu = await _read_all(server.url, tapped=tapped, rounds=rounds)
                per = cpu / read * 1e6
                best = per if best is None else min(best, per)
            print(f"  {label:14s} {best:6.2f} us CPU per message read (best of 3)")


def _flow_control(loops: int) -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response()

    protocol = web.Server(handler)()
    scope = {"p": protocol}
    empty = min(timeit.repeat("p", globals=scope, number=loops, repeat=5)) / loops * 1e9
    public = min(timeit.repeat("p.writing_paused", globals=scope, number=loops, repeat=5))
    private = min(timeit.repeat("p._paused", globals=scope, number=loops, repeat=5))
    public, private = public / loops * 1e9 - empty, private / loops * 1e9 - empty
    print("aiohttp flow control, one read per connection per flush pass (best of 5):")
    print(f"  writing_paused (public)  {public:5.1f} ns")
    print(f"  _paused (private, gone)  {private:5.1f} ns")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hooks", description=__doc__)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(_raw_replies(args.messages, args.rounds))

    async def flow() -> None:
        _flow_control(1_000_000)

    asyncio.run(flow())


if __name__ == "__main__":
    main()
