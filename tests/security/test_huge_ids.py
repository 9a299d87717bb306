"""Threat: anyone makes the service answer 500 at will with a crafted address.

An id beyond 64 bits (``/carte/initiative/18446744073709551616``) reached the database driver,
which cannot hold it (OverflowError on SQLite; on PostgreSQL, whose INTEGER ids stop at 2**31 - 1,
"integer out of range" already beyond 31 bits): a 500 on every route taking an id, for every
visitor, signed in or not. Malformed segments (NUL bytes, which PostgreSQL refuses in text; invalid
UTF-8; control characters; 10,000 characters; ``../``) must not do it either. The tests walk
``app.url_map`` (every rule, every method, POST with and without a valid CSRF token) as every
role, putting each hostile value in one argument at a time while the others hold real ids and
slugs, so that the value reaches as far into the view as a real address would.
"""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest
from web.security_world import ROLES, build_world, sample_url, sign_in_as
from werkzeug.routing import AnyConverter, IntegerConverter, PathConverter

# Out of 1..2**31-1 (an INTEGER column on PostgreSQL): no row can have such an id, the route
# does not match (404).
OUT_OF_RANGE_IDS = [
    "18446744073709551616",  # 2**64
    "9223372036854775808",  # 2**63: beyond SQLite's integers
    "2147483648",  # 2**31: beyond PostgreSQL's INTEGER
    "9" * 5000,  # more digits than Python converts by default
    "0",
]
LARGEST_ID = "2147483647"  # routes, and finds nothing
# Already percent-encoded, as they travel in a request line.
MALFORMED_SEGMENTS = [
    "%00",
    "a%00b",
    "x" * 10_000,
    "%C3%A9" * 3_000,
    "%ff%fe",
    "%e9t%e9",  # Latin-1, not UTF-8
    "%01%1f%7f",
    "a%0d%0aSet-Cookie:%20pris=1",
    "..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e",
    "18446744073709551616",
]
PATH_ONLY = ["../../directory/config.py", "a/../../../etc/passwd", "a/%00/b"]

MARK = "zzhostilezz"
MARK_ID = 987654321987  # a number no sample holds, replaced in the built address


def _is_int(rule, argument: str) -> bool:
    return isinstance(rule._converters[argument], IntegerConverter)


def _addresses(app, world):
    """(rule, argument, address with MARK in place of that argument) for every argument."""
    adapter = app.url_map.bind("localhost")
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        real = sample_url(rule, world)
        matched, values = adapter.match(
            urlsplit(real).path, method=_methods(rule)[0], return_rule=True
        )
        assert set(values) >= set(rule._converters), (rule.rule, matched.rule)
        for argument in sorted(rule._converters):  # the arguments in the address
            if isinstance(rule._converters[argument], AnyConverter):
                continue  # only its own words route at all
            marked = dict(values, **{argument: MARK_ID if _is_int(rule, argument) else MARK})
            _, address = rule.build(marked, append_unknown=False)
            yield rule, argument, address.replace(str(MARK_ID), MARK)


def _methods(rule) -> list[str]:
    # HEAD runs the GET view and OPTIONS is answered by Flask itself.
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


def _values(rule, argument: str) -> list[str]:
    if _is_int(rule, argument):
        return [*OUT_OF_RANGE_IDS, LARGEST_ID, *MALFORMED_SEGMENTS]
    if isinstance(rule._converters[argument], PathConverter):
        return MALFORMED_SEGMENTS + PATH_ONLY
    return MALFORMED_SEGMENTS


@pytest.mark.parametrize("role", ROLES)
def test_no_address_gives_a_server_error(app, csrf_token, role):
    world = build_world(app)
    client = app.test_client()
    sign_in_as(app, client, world, role)
    token = csrf_token(client)
    server_errors, routed_huge_ids, requests = [], [], 0
    for rule, argument, address in _addresses(app, world):
        for value in _values(rule, argument):
            url = address.replace(MARK, value)
            for method in _methods(rule):
                bodies = [None] if method == "GET" else [{}, {"csrf_token": token}]
                for data in bodies:
                    response = client.open(url, method=method, data=data)
                    requests += 1
                    where = (role, method, rule.rule, argument, value[:40], bool(data))
                    if response.status_code >= 500:
                        server_errors.append((*where, response.status_code))
                    huge = value in OUT_OF_RANGE_IDS and _is_int(rule, argument)
                    if huge and response.status_code != 404:
                        routed_huge_ids.append((*where, response.status_code))
                    # A value never comes back as a header of its own (CR LF injection).
                    assert "pris" not in response.headers.get("Set-Cookie", ""), where
    assert server_errors == []
    assert routed_huge_ids == []
    assert requests > 1000  # the walk reached the routes (they are not all gone)


def test_every_id_route_refuses_ids_its_column_cannot_hold(app):
    """The bound holds for each ``<int:>`` rule, including routes added later."""
    id_rules = [
        rule
        for rule in app.url_map.iter_rules()
        if any(_is_int(rule, argument) for argument in rule._converters)
    ]
    assert len(id_rules) >= 10
    adapter = app.url_map.bind("localhost")
    for rule in id_rules:
        for argument in rule._converters:
            if _is_int(rule, argument):
                converter = rule._converters[argument]
                assert converter.min == 1 and converter.max == 2**31 - 1, rule.rule
    assert adapter.test("/carte/initiative/2147483647")
    assert not adapter.test("/carte/initiative/2147483648")


def _raw_get(server, path: str) -> int:
    """Send ``path`` as is in the request line (no client-side quoting or normalising)."""
    address = urlsplit(server("/"))
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        return connection.getresponse().status
    finally:
        connection.close()


def test_real_server_answers_hostile_addresses_without_error(gunicorn_server):
    """The same through gunicorn, as served in production: its own path decoding."""
    server = gunicorn_server(workers=1)
    huge = "18446744073709551616"
    for path in (
        f"/carte/initiative/{huge}",
        f"/gestion/propositions/{huge}",
        f"/gestion/revisions/{huge}",
        f"/api/v1/initiatives/{huge}",
    ):
        assert _raw_get(server, path) == 404, path
    for segment in MALFORMED_SEGMENTS:
        for prefix in ("/initiatives/", "/organisations/", "/territoires/", "/invitation/"):
            status = _raw_get(server, prefix + segment)
            assert 400 <= status < 500, (prefix, segment[:40], status)
    for path in ("/static/" + PATH_ONLY[0], "/static/%2e%2e/directory/config.py"):
        assert _raw_get(server, path) in (400, 404), path
    assert _raw_get(server, "/") == 200  # the server itself is fine
