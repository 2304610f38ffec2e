"""Real headless Chromium (Debian's package, driven by Playwright) against a real cluster.

One cluster for the folder, as ``haws up`` runs it: two gateways behind HAProxy,
the demo page, jwt auth with the demo server minting short-lived dev tokens (so
the token tests and everything else share one start). Each test opens its own
browser contexts (fresh storage, own network switch) in its own room.
"""

from __future__ import annotations

import json
import secrets
import shutil
import statistics
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from haws.cluster import ClusterSpec, LocalCluster, service_available
from haws.cluster.demo.server import make_server
from tests.e2e.browser.pages import SCREENSHOTS, DemoPage

try:
    from playwright.sync_api import Browser, Playwright, sync_playwright

    HAVE_PLAYWRIGHT = True
except ImportError:  # the dev extra is not installed
    HAVE_PLAYWRIGHT = False

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
GATEWAY_ARGS = ("--consul-ttl", "2", "--drain-period", "1", "--drain-timeout", "5")
EXPIRY_GRACE = "1"
"""Seconds an unrefreshed connection outlives its token: short, so a refresh that fails shows."""
OTHER_HOST = "127.0.0.2"
"""Loopback too (127.0.0.0/8), but another origin than the demo's 127.0.0.1."""
RECOVERY_FILE = SCREENSHOTS / "recovery.json"
REPO = Path(__file__).resolve().parents[3]
BUNDLE = REPO / "clients" / "js" / "dist" / "haws.min.js"

pytestmark = pytest.mark.e2e


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = None
    if not HAVE_PLAYWRIGHT:
        reason = "playwright (the dev extra) is not installed"
    elif CHROMIUM is None:
        reason = "chromium is not on PATH (make install-system)"
    elif shutil.which("haproxy") is None or not service_available("gateway"):
        reason = "haproxy or haws.gateway missing"
    elif not BUNDLE.exists():
        reason = f"{BUNDLE} not built (make js)"
    if reason is None:
        return
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def dev_secret() -> str:
    """The cluster's HS256 dev secret; the demo server mints tokens with it."""
    return secrets.token_urlsafe(32)


@pytest.fixture(scope="session")
def browser_cluster(
    tmp_path_factory: pytest.TempPathFactory, dev_secret: str
) -> Iterator[LocalCluster]:
    secret = dev_secret
    spec = ClusterSpec(
        gateways=2,
        presence=1,
        replay=1,
        haproxy=True,
        demo=True,
        gateway_args=GATEWAY_ARGS,
        gateway_env=(
            ("HAWS_AUTH_MODE", "jwt"),
            ("HAWS_AUTH_HS256_SECRET", secret),
            ("HAWS_AUTH_EXPIRY_GRACE", EXPIRY_GRACE),
        ),
    )
    with LocalCluster(tmp_path_factory.mktemp("browser-cluster"), spec) as cluster:
        RUNNING.append(cluster)
        yield cluster
        RUNNING.clear()


RUNNING: list[LocalCluster] = []
"""The folder's cluster, stopped after the folder's last test (see below)."""


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Session-scoped for one start, but not a load on the rest of the run: stop the
    cluster as soon as the next test is not a browser test."""
    here = Path(__file__).parent
    if nextitem is not None and here in nextitem.path.parents:
        return
    for cluster in RUNNING:
        cluster.stop()
    RUNNING.clear()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """One browser per test module: Playwright's sync API runs an event loop of its own
    on this thread while it lives, so it must be gone before any asyncio test runs."""
    playwright: Playwright
    with sync_playwright() as playwright:
        # launch() gives every run a fresh temporary profile (user-data dir).
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


OpenPage = Callable[..., DemoPage]


@pytest.fixture
def open_page(browser_cluster: LocalCluster, chromium: Browser) -> Iterator[OpenPage]:
    """``open_page(room, **query)``: the demo in a fresh context, connected."""
    pages: list[DemoPage] = []
    assert browser_cluster.demo is not None
    base = browser_cluster.demo.url

    def open_one(
        room: str,
        *,
        wait: bool = True,
        base_url: str = base,
        **query: str,
    ) -> DemoPage:
        context = chromium.new_context(viewport={"width": 1100, "height": 640})
        page = DemoPage(context, base_url)
        pages.append(page)
        page.open(room, **query)
        if wait:
            page.wait_connected()
        return page

    yield open_one
    for page in pages:
        page.close()


@pytest.fixture
def other_origin(browser_cluster: LocalCluster, dev_secret: str) -> Iterator[str]:
    """The same demo served from another loopback address: an origin no gateway allows."""
    assert browser_cluster.demo is not None
    assert browser_cluster.demo.config is not None
    server = make_server(OTHER_HOST, 0, browser_cluster.demo.config, dev_secret)
    thread = threading.Thread(target=server.serve_forever, name="other-origin", daemon=True)
    thread.start()
    try:
        yield f"http://{OTHER_HOST}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class RecoveryLog:
    """Recovery times after a gateway SIGKILL, kept for the report at the end of the run."""

    def __init__(self) -> None:
        self.samples: list[float] = []

    def add(self, ms: float) -> None:
        self.samples.append(ms)

    def summary(self) -> dict[str, Any]:
        s = sorted(self.samples)
        return {
            "runs": len(s),
            "p50_ms": round(statistics.median(s)),
            "max_ms": round(s[-1]),
            "samples_ms": [round(x) for x in s],
        }


RECOVERY = RecoveryLog()


@pytest.fixture
def recovery() -> RecoveryLog:
    return RECOVERY


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RECOVERY.samples:
        return
    summary = RECOVERY.summary()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    RECOVERY_FILE.write_text(json.dumps(summary) + "\n")
    terminalreporter.write_line(
        f"browser recovery after gateway SIGKILL: p50 {summary['p50_ms']} ms, "
        f"max {summary['max_ms']} ms over {summary['runs']} kills ({RECOVERY_FILE})"
    )
