"""The demo page as the tests drive it: what a user sees, plus ``window.hawsDemo``'s record."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

SCREENSHOTS = Path(__file__).resolve().parents[3] / "run" / "browser"
WAIT_MS = 20_000
PUBLISH_MAX = 2000
"""A publishing loop stops after this many messages or PUBLISH_MAX_MS, whatever comes first."""
PUBLISH_MAX_MS = 60_000
SHOWN = "#messages li[data-seq]"


class DemoPage:
    def __init__(self, context: BrowserContext, base_url: str) -> None:
        self.context = context
        self.page: Page = context.new_page()
        self.base_url = base_url
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def open(self, room: str, **query: str) -> None:
        self.page.goto(f"{self.base_url}?{urlencode({'room': room, **query})}")
        self.page.wait_for_function("window.hawsDemo !== undefined", timeout=WAIT_MS)

    def close(self) -> None:
        self.context.close()

    # ---- what the page knows ----
    def js(self, expression: str, arg: Any = None) -> Any:
        return self.page.evaluate(expression, arg)

    @property
    def state(self) -> str:
        return str(self.js("hawsDemo.client.state"))

    @property
    def node(self) -> str:
        return str(self.js("hawsDemo.client.node"))

    @property
    def session(self) -> str:
        return str(self.js("hawsDemo.client.session"))

    def status_text(self) -> str:
        return self.page.inner_text("#status")

    def transitions(self) -> list[dict[str, Any]]:
        return list(self.js("hawsDemo.transitions"))

    def seqs(self, room: str) -> list[int]:
        return list(self.js("(room) => hawsDemo.seqs(room)", room))

    def shown_seqs(self) -> list[int]:
        """The seqs the message list shows, top to bottom (what the user sees)."""
        return list(
            self.js(f"[...document.querySelectorAll('{SHOWN}')].map(li => +li.dataset.seq)")
        )

    def record(self, name: str) -> list[Any]:
        return list(self.js(f"hawsDemo.{name}"))

    # ---- waiting ----
    def wait(self, expression: str, arg: Any = None, timeout: float = WAIT_MS) -> None:
        self.page.wait_for_function(expression, arg=arg, timeout=timeout)

    def wait_connected(self) -> None:
        self.wait("hawsDemo.client.state === 'connected'")

    def wait_received(self, room: str, count: int, timeout: float = WAIT_MS) -> None:
        self.wait("([room, n]) => hawsDemo.seqs(room).length >= n", [room, count], timeout)

    # ---- acting ----
    def publish(self, room: str, text: str) -> dict[str, Any]:
        return dict(self.js("([room, text]) => hawsDemo.publish(room, text)", [room, text]))

    def start_publishing(self, room: str, interval_ms: int) -> None:
        """Publish ``room`` messages every ``interval_ms`` until ``stop_publishing`` (bounded)."""
        self.js(
            """([room, gap, max, maxMs]) => {
              const run = (window.publishing = { stop: false, acks: [], failed: [] });
              const started = Date.now();
              run.done = (async () => {
                const pending = [];
                for (let i = 0; !run.stop && i < max && Date.now() - started < maxMs; i++) {
                  pending.push(hawsDemo.publish(room, `m${i}`).then(
                    (ack) => run.acks.push(ack.seq), (err) => run.failed.push(err.code)));
                  await new Promise((r) => setTimeout(r, gap));
                }
                await Promise.all(pending);
                return { acks: run.acks, failed: run.failed };
              })();
            }""",
            [room, interval_ms, PUBLISH_MAX, PUBLISH_MAX_MS],
        )

    def acked(self) -> int:
        return int(self.js("window.publishing.acks.length"))

    def stop_publishing(self) -> dict[str, list[Any]]:
        return dict(self.js("window.publishing.stop = true, window.publishing.done"))

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"demo-{name}.png"
        self.page.screenshot(path=str(path))
        return path
