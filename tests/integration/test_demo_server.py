"""The demo page's server: the files, the config, dev tokens, and nothing else."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import jwt
import pytest

from haws.cluster.demo import DemoConfig
from haws.cluster.demo.server import TOKEN_TTL_MAX, TOKEN_TTL_MIN, make_server
from haws.cluster.probe import http_get

SECRET = "a-dev-secret-of-at-least-32-bytes-long"
CONFIG = DemoConfig(endpoints=("ws://127.0.0.1:1/ws",), auth="jwt")
Serve = Callable[..., str]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    servers = []
    threads = []

    def start(secret: str | None = SECRET, bundle: Path | None = None) -> str:
        server = make_server("127.0.0.1", 0, CONFIG, secret, bundle or tmp_path / "none.js")
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append(server)
        threads.append(thread)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
    for thread in threads:
        thread.join(5)


def get(url: str) -> tuple[int, bytes]:
    reply = http_get(url, timeout=5)
    assert reply is not None
    return reply


def test_page_config_and_bundle(serve: Serve, tmp_path: Path) -> None:
    bundle = tmp_path / "haws.min.js"
    bundle.write_text("var haws={};")
    base = serve(bundle=bundle)
    status, page = get(f"{base}/")
    assert status == 200
    assert b"/haws.min.js" in page
    assert get(f"{base}/app.js")[0] == 200
    assert json.loads(get(f"{base}/config.json")[1])["endpoints"] == ["ws://127.0.0.1:1/ws"]
    assert get(f"{base}/haws.min.js") == (200, b"var haws={};")


def test_an_unbuilt_bundle_says_how_to_build_it(serve: Serve) -> None:
    status, body = get(f"{serve()}/haws.min.js")
    assert status == 503
    assert b"make js" in body


@pytest.mark.parametrize("path", ["/../server.py", "/server.py", "/%2e%2e/config.py", "/x.txt"])
def test_nothing_but_the_page_files(serve: Serve, path: str) -> None:
    assert get(f"{serve()}{path}")[0] == 404


@pytest.mark.parametrize(
    ("asked", "given"), [("60", 60), ("0", TOKEN_TTL_MIN), ("99999", TOKEN_TTL_MAX), ("x", 300)]
)
def test_dev_tokens_have_a_bounded_lifetime(serve: Serve, asked: str, given: int) -> None:
    status, body = get(f"{serve()}/token?user=ann&ttl={asked}")
    assert status == 200
    answer = json.loads(body)
    claims = jwt.decode(answer["token"], SECRET, algorithms=["HS256"])
    assert claims["sub"] == "ann"
    assert claims["exp"] - claims["iat"] == given == answer["ttl"]


def test_no_tokens_in_anonymous_mode(serve: Serve) -> None:
    assert get(f"{serve(secret=None)}/token")[0] == 404
