"""Starting the three baselines: raw aiohttp, python-socketio, Node socket.io 4.

The Python ones run with this interpreter from ``bench/baselines/``; the Node
one is installed with ``npm install`` in ``bench/baselines/node/`` the first
time it is needed. A missing package or tool makes the baseline ``Skipped``.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

from bench.systems import Skipped
from bench.systems.process import ServerProcess

BASELINES = Path(__file__).resolve().parent.parent / "baselines"
NODE_DIR = BASELINES / "node"
NPM_TIMEOUT = 300.0


def raw_aiohttp(log_dir: Path) -> ServerProcess:
    argv = [sys.executable, "-m", "bench.baselines.raw_aiohttp", "--port", "{port}"]
    return ServerProcess("raw-aiohttp", argv, log_dir, cwd=BASELINES.parent.parent)


def python_socketio(log_dir: Path) -> ServerProcess:
    if importlib.util.find_spec("socketio") is None:
        raise Skipped("python-socketio is not installed (pip install python-socketio)")
    argv = [sys.executable, "-m", "bench.baselines.socketio_server", "--port", "{port}"]
    return ServerProcess("python-socketio", argv, log_dir, cwd=BASELINES.parent.parent)


def node_socketio(log_dir: Path) -> ServerProcess:
    node = shutil.which("node")
    if node is None:
        raise Skipped("node is not installed")
    ensure_node_modules()
    return ServerProcess(
        "node-socketio", [node, str(NODE_DIR / "server.js"), "{port}"], log_dir, cwd=NODE_DIR
    )


_npm_failure: str | None = None


def ensure_node_modules() -> None:
    """``npm install`` once when socket.io is not in ``node_modules`` yet."""
    global _npm_failure
    if (NODE_DIR / "node_modules" / "socket.io" / "package.json").is_file():
        return
    if _npm_failure is not None:
        raise Skipped(_npm_failure)
    npm = shutil.which("npm")
    if npm is None:
        _npm_failure = "npm is not installed"
        raise Skipped(_npm_failure)
    try:
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        _npm_failure = f"npm install took more than {NPM_TIMEOUT:.0f} s"
        raise Skipped(_npm_failure) from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        _npm_failure = f"npm install failed: {tail[0]}"
        raise Skipped(_npm_failure)
