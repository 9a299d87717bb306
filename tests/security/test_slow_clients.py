"""Threat: slow clients stall the site.

An attacker opens a few dozen connections and never finishes them: request headers sent a line at
a time and never ended (slowloris), connections opened and left silent, or a POST announcing a
body that never comes. With gunicorn's sync workers each such connection holds a whole worker, so
30 of them against two workers kept ``GET /`` waiting for more than 30 s. The shipped gunicorn
configuration (gevent workers) must keep answering everyone else meanwhile, and must drop a
connection whose headers never end.

Each test starts a real gunicorn server with ``deploy/gunicorn.conf.py`` and two workers.
"""

from __future__ import annotations

import socket
import urllib.request
from contextlib import ExitStack

ATTACKERS = 30


def _connections(server, stack: ExitStack, first_bytes: bytes) -> list[socket.socket]:
    """``ATTACKERS`` connections that sent ``first_bytes`` and will send nothing more."""
    opened = []
    for _ in range(ATTACKERS):
        connection = stack.enter_context(socket.create_connection(("127.0.0.1", server.port)))
        if first_bytes:
            connection.sendall(first_bytes)
        opened.append(connection)
    return opened


def _home_answers(server) -> int:
    with urllib.request.urlopen(server("/"), timeout=10) as response:
        response.read()
        return response.status


def test_half_open_connections_do_not_stall_the_home_page(gunicorn_server):
    server = gunicorn_server(workers=2)
    with ExitStack() as stack:
        _connections(server, stack, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert _home_answers(server) == 200
        assert _home_answers(server) == 200


def test_idle_connections_do_not_stall_the_home_page(gunicorn_server):
    server = gunicorn_server(workers=2)
    with ExitStack() as stack:
        _connections(server, stack, b"")
        assert _home_answers(server) == 200


def test_a_body_that_never_comes_does_not_stall_the_home_page(gunicorn_server):
    server = gunicorn_server(workers=2)
    host = f"127.0.0.1:{server.port}"
    headers = (
        f"POST /connexion HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"
        "email="
    ).encode()
    with ExitStack() as stack:
        _connections(server, stack, headers)
        assert _home_answers(server) == 200


def test_headers_that_never_end_are_cut_off(gunicorn_server):
    """The keep-alive timeout bounds the wait for headers: the server closes the connection."""
    server = gunicorn_server(workers=2)
    with socket.create_connection(("127.0.0.1", server.port)) as connection:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        connection.settimeout(30)
        assert connection.recv(1024) == b""  # closed by the server, not timed out here
