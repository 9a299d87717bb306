"""Threat: behind a reverse proxy without ``PROXY_COUNT``, every visitor shares one counter.

The app then sees the proxy's address for everyone: one attacker exhausts the per-address
sign-in limit for all visitors, and the limit says nothing about who is who. The operator is
warned in the log, once per process, at the first request that carries ``X-Forwarded-For``
while ``PROXY_COUNT=0`` (and such a header, sent by anyone, is not trusted). With
``PROXY_COUNT=1`` the client address given by the proxy is what is counted.
"""

from __future__ import annotations

from collections import Counter

from signin_client import Visitor, outcome, sign_in

WARNING = "réglez PROXY_COUNT"


def _per_address(limit: str) -> dict[str, str]:
    return {"AUTH_RATE_LIMIT_PER_ADDRESS": limit, "AUTH_RATE_LIMIT_PER_EMAIL": "100 per minute"}


def _wrong_sign_ins(server, forwarded: list[str]) -> Counter:
    """One wrong sign-in per forwarded address, each for a different account."""
    return Counter(
        outcome(sign_in(server.url, f"compte{n}@example.org", "faux", **{"X-Forwarded-For": ip}))
        for n, ip in enumerate(forwarded)
    )


def test_forwarded_for_without_proxy_count_is_warned_once_and_not_trusted(gunicorn_server):
    server = gunicorn_server(workers=1, env=_per_address("3 per hour"))
    assert Visitor(server.url).request("/").status == 200
    assert WARNING not in server.log()

    # Forged addresses do not escape the per-address limit: the real peer is counted.
    forged = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"]
    assert _wrong_sign_ins(server, forged) == Counter(wrong=3, limited=1)
    assert server.log().count(WARNING) == 1


def test_with_one_proxy_each_forwarded_address_has_its_own_counter(gunicorn_server):
    server = gunicorn_server(workers=2, env={"PROXY_COUNT": "1", **_per_address("3 per hour")})

    first = ["198.51.100.1"] * 4
    assert _wrong_sign_ins(server, first) == Counter(wrong=3, limited=1)
    # Another visitor behind the same proxy is not locked out by the first one.
    assert _wrong_sign_ins(server, ["198.51.100.2"] * 3) == Counter(wrong=3)
    assert WARNING not in server.log()
