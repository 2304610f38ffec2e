"""Generated NATS passwords are valid wherever they go: a NATS ``$VARIABLE`` and a route URL."""

from __future__ import annotations

import re

from haws.cluster.credentials import ClusterCredentials, nats_password


def test_a_password_is_a_letter_then_hex_so_nats_reads_it_as_a_string() -> None:
    # A value starting with a digit or "-" is parsed as a number by nats-server.
    for _ in range(2000):
        assert re.fullmatch(r"p[0-9a-f]{48}", nats_password())


def test_every_secret_of_a_run_has_that_shape_and_none_repeats() -> None:
    creds = ClusterCredentials.generate()
    passwords = [*creds.nats_passwords.values(), creds.route_password]
    assert all(re.fullmatch(r"p[0-9a-f]{48}", p) for p in passwords)
    assert len(set(passwords)) == len(passwords)
