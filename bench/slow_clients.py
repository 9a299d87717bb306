"""Slow clients: latency of ``GET /`` beside 30 half-open connections, per gunicorn worker class.

    .venv/bin/python bench/slow_clients.py [--attackers 30] [--requests 20] [--cap 15]

Builds a seeded instance (``flask setup``) in a temporary folder, then for the shipped
configuration (``deploy/gunicorn.conf.py``: gevent) and, for comparison, the same configuration
with ``--worker-class sync`` and with ``gthread`` (4 threads), each with 2 workers: opens
``--attackers`` connections that send ``GET / HTTP/1.1`` and one header line and never finish,
then times ``--requests`` requests for ``/`` one after the other (each given ``--cap`` seconds).
Prints p50 and max, or « no answer in N s ». No load leaves this machine (127.0.0.1 only).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from servers import GunicornServer  # noqa: E402

VARIANTS = {
    "gevent (shipped)": (),
    "sync": ("--worker-class", "sync"),
    "gthread, 4 threads": ("--worker-class", "gthread", "--threads", "4"),
}


def time_home(server: GunicornServer, attackers: int, requests: int, cap: float) -> str:
    with ExitStack() as stack:
        for _ in range(attackers):
            connection = stack.enter_context(socket.create_connection(("127.0.0.1", server.port)))
            connection.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(server("/"), timeout=cap) as response:  # noqa: S310
                    response.read()
            except OSError:
                return f"no answer in {cap:.0f} s (after {len(times)} answered)"
            times.append(time.perf_counter() - started)
    return f"p50 {statistics.median(times) * 1000:7.1f} ms   max {max(times) * 1000:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attackers", type=int, default=30)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--cap", type=float, default=15.0, help="seconds given to each request")
    options = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-slow-clients-"))
    try:
        instance = workdir / "instance"
        env = dict(os.environ, DIRECTORY_INSTANCE_PATH=str(instance))
        command = [sys.executable, "-m", "flask", "--app", "directory", "setup"]
        subprocess.run(command, check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)  # noqa: S603
        database_url = f"sqlite:///{instance / 'annuaire.sqlite3'}"
        print(
            f"GET / beside {options.attackers} half-open connections, 2 workers, "
            f"{options.requests} requests"
        )
        for name, args in VARIANTS.items():
            server = GunicornServer(instance, database_url, workers=2, args=args)
            with server:
                print(f"  {name:<20} {time_home(server, **vars(options))}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
