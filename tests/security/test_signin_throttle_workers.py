"""Threat: guessing an account's password by spreading the attempts over workers and servers.

Each gunicorn worker used to count sign-in attempts in its own memory, so every worker (and every
server behind a load balancer) multiplied the limit: 8 of 12 wrong passwords were checked with
2 workers instead of 5. Without Redis the counters now live in the database shared by all of
them, so at most 5 wrong passwords per account per minute are ever checked, however the
attempts are spread, one after the other or all at once.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from signin_client import add_account, attempts, outcome, sign_in

# The per-address limit is lifted so that what is measured is the per-account one.
SERVER_ENV = {
    "AUTH_RATE_LIMIT_PER_EMAIL": "5 per minute",
    "AUTH_RATE_LIMIT_PER_ADDRESS": "10000 per hour",
}


@pytest.mark.parametrize("workers", [2, 4])
def test_five_wrong_passwords_per_account_whatever_the_workers(gunicorn_server, tmp_path, workers):
    server = gunicorn_server(workers=workers, env=SERVER_ENV)
    add_account(gunicorn_server.database_url, tmp_path / "seed", "cible@example.org")

    assert attempts([server.url], "cible@example.org", 12) == Counter(wrong=5, limited=7)


@pytest.mark.parametrize("workers", [2, 4])
def test_a_burst_of_simultaneous_attempts_checks_five_at_most(gunicorn_server, tmp_path, workers):
    server = gunicorn_server(workers=workers, env=SERVER_ENV)
    add_account(gunicorn_server.database_url, tmp_path / "seed", "rafale@example.org")

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(
            pool.map(lambda _: sign_in(server.url, "rafale@example.org", "faux"), range(12))
        )
    outcomes = Counter(outcome(answer) for answer in answers)
    assert set(outcomes) <= {"wrong", "limited"}
    assert outcomes["wrong"] <= 5


def test_two_servers_on_one_database_share_the_count(gunicorn_server, tmp_path):
    first = gunicorn_server(workers=2, env=SERVER_ENV)
    second = gunicorn_server(workers=2, env=SERVER_ENV)
    add_account(gunicorn_server.database_url, tmp_path / "seed", "cible@example.org")

    assert attempts([first.url, second.url], "cible@example.org", 12) == Counter(wrong=5, limited=7)
    # Even the right password is no longer tried, on either server.
    from factories import TEST_PASSWORD

    for server in (first, second):
        assert outcome(sign_in(server.url, "cible@example.org", TEST_PASSWORD)) == "limited"
