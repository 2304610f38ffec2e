"""A terminal chat on haws: every line typed is published, every message printed.

    python examples/python/chat.py ws://127.0.0.1:8080/ws [more gateway URLs...]

Stop one gateway while it runs: the client moves to another node and catches up,
and no line is lost or printed twice. Ctrl-D (end of input) quits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import sys

from haws.client import Client, Message, MessageStream, State


def show(message: Message) -> None:
    data = message.data if isinstance(message.data, dict) else {"text": message.data}
    print(f"[{message.seq}] {data.get('name', '?')}: {data.get('text', '')}", flush=True)


async def print_messages(stream: MessageStream) -> None:
    async for message in stream:
        show(message)


async def stdin_lines() -> asyncio.StreamReader:
    """Standard input as an asyncio stream, so reading it never blocks the loop."""
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def report_state(state: State) -> None:
    print(f"-- {state.value}", file=sys.stderr, flush=True)


def report_gap(topic: str, expected_prev: int, got_prev: int) -> None:
    print(f"-- {topic}: messages after {expected_prev} up to {got_prev} are gone", file=sys.stderr)


async def chat(urls: list[str], topic: str, name: str, history: bool) -> None:
    async with Client(urls, on_state=report_state, on_gap=report_gap) as client:
        stream = client.subscription(topic)
        await client.subscribe(topic, since=0 if history else None)
        printer = asyncio.create_task(print_messages(stream))
        try:
            lines = await stdin_lines()
            while line := await lines.readline():
                text = line.decode().rstrip("\n")
                if text:
                    await client.publish(topic, {"name": name, "text": text})
        finally:
            printer.cancel()
            await asyncio.gather(printer, return_exceptions=True)
            stream.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("urls", nargs="+", help="gateway WebSocket URLs (ws://host:port/ws)")
    parser.add_argument("--topic", default="chat.lobby")
    parser.add_argument("--name", default=getpass.getuser())
    parser.add_argument("--history", action="store_true", help="print retained history first")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(chat(args.urls, args.topic, args.name, args.history))


if __name__ == "__main__":
    main()
