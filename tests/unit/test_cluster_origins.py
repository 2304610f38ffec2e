"""Which browser origins ``haws up``'s gateways get: the demo's, dev servers', the developer's."""

from __future__ import annotations

from pathlib import Path

from haws.cluster import ClusterSpec, LocalCluster
from haws.cluster.origins import DEV_ORIGINS, from_env, merged
from haws.cluster.up import build_parser


def test_the_demo_origin_and_the_given_ones_reach_every_gateway(tmp_path: Path) -> None:
    spec = ClusterSpec(
        gateways=2,
        presence=0,
        replay=0,
        haproxy=False,
        demo=True,
        allowed_origins=("http://localhost:4200",),
        gateway_env=(("HAWS_ALLOWED_ORIGINS", "https://app.example"),),
    )
    cluster = LocalCluster(tmp_path, spec)  # nothing starts before start()
    assert cluster.demo is not None
    port = cluster.demo.port
    expected = (
        "https://app.example",
        "http://localhost:4200",
        f"http://127.0.0.1:{port}",
        f"http://localhost:{port}",
    )
    assert cluster.allowed_origins == expected
    for gateway in cluster.gateways:
        assert gateway.env()["HAWS_ALLOWED_ORIGINS"] == ",".join(expected)
    assert cluster.describe()["demo"] == f"http://127.0.0.1:{port}/"
    assert cluster.demo.config is not None
    assert cluster.demo.config.endpoints == tuple(g.ws_url for g in cluster.gateways)


def test_a_test_cluster_has_no_demo_and_no_browser_origins(tmp_path: Path) -> None:
    cluster = LocalCluster(tmp_path, ClusterSpec(presence=0, replay=0, haproxy=False))
    assert cluster.demo is None
    assert cluster.describe()["demo"] is None
    assert all("HAWS_ALLOWED_ORIGINS" not in g.extra_env for g in cluster.gateways)


def test_haws_up_adds_dev_servers_the_environment_and_flags() -> None:
    args = build_parser().parse_args(["--allow-origin", "http://localhost:4200"])
    env = {"HAWS_ALLOWED_ORIGINS": "https://a.example, https://b.example"}
    origins = merged(DEV_ORIGINS, from_env(env), args.allow_origin)
    assert origins[: len(DEV_ORIGINS)] == DEV_ORIGINS
    assert origins[len(DEV_ORIGINS) :] == (
        "https://a.example",
        "https://b.example",
        "http://localhost:4200",
    )
    assert "http://localhost:5173" in DEV_ORIGINS
    assert build_parser().parse_args([]).demo is True
    assert build_parser().parse_args(["--no-demo"]).demo is False
