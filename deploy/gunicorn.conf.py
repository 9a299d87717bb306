"""gunicorn settings for the directory, used by ``make run`` and in production.

``gunicorn -c deploy/gunicorn.conf.py "directory:create_app()"``. The address comes from
``--bind`` (``make run`` passes ``HOST:PORT``), the number of workers from ``--workers`` or
``WEB_CONCURRENCY``.

gevent workers: a client that sends its request slowly, or keeps an idle connection open, holds a
cheap greenlet instead of a whole worker (sync) or thread (gthread), so slow clients cannot stall
the site. In production nginx buffers requests in front as well (``deploy/nginx.conf``).
"""

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from gunicorn import glogging

worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_connections = 1000
# A worker silent this long is restarted; a request never legitimately runs longer.
timeout = 30
graceful_timeout = 30
# Idle keep-alive connections, and connections whose request headers are not complete, are
# closed after this many seconds (gevent workers time the reading of the headers).
keepalive = 5
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190


def on_starting(server) -> None:
    """Refuse to listen on a public address without PUBLIC_URL (the message says why)."""
    from directory.config import check_public_url_for_start

    check_public_url_for_start(server.cfg.bind)


# The search index is written by one process beside the web workers (``flask search worker``):
# a save only records its change, and no web worker spends a Whoosh commit (0.1 to 0.6 s of
# CPU at 10,000 entries) while other requests wait on it. SEARCH_INDEXER=request keeps the
# index written by the saving request instead, with no extra process.
os.environ.setdefault("SEARCH_INDEXER", "worker")
_indexer: dict = {}


def _run_indexer(server) -> None:
    """Start the indexer, and start it again if it stops, until gunicorn exits."""
    stopping = _indexer["stopping"]
    while not stopping.is_set():
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "directory", "search", "worker"],
            cwd=Path(__file__).resolve().parent.parent,
        )
        _indexer["process"] = process
        process.wait()
        if not stopping.is_set():
            server.log.error("Search indexer exited (%s); starting it again.", process.returncode)
            stopping.wait(1.0)


def when_ready(server) -> None:
    if os.environ["SEARCH_INDEXER"] != "worker":
        return
    _indexer["stopping"] = threading.Event()
    threading.Thread(target=_run_indexer, args=(server,), name="indexer", daemon=True).start()


def on_exit(server) -> None:
    if "stopping" not in _indexer:
        return
    _indexer["stopping"].set()
    process = _indexer.get("process")
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


# Access log: one JSON object per line (see docs/deploiement.md), on standard output unless
# ``--access-logfile`` says otherwise (systemd hands it to the journal).
accesslog = "-"
access_log_format = (
    '{"time": %(t)s, "remote": %(h)s, "forwarded_for": %({x-forwarded-for}i)s, '
    '"host": %({host}i)s, "method": %(m)s, "path": %(U)s, "query": %(q)s, "status": %(s)s, '
    '"bytes": %(B)s, "duration_ms": %(M)s, "user_agent": %(a)s, "referer": %(f)s}'
)


class JsonAtoms(dict):
    """Log atoms written as JSON values: gunicorn's own ``SafeAtoms`` only puts a backslash
    before double quotes, so a path or a user agent holding a backslash or a control character
    would break the line."""

    def __getitem__(self, key: str) -> str:
        if key.startswith("{"):
            key = key.lower()
        return json.dumps(self.get(key), ensure_ascii=False)


class JsonAccessLogger(glogging.Logger):
    """gunicorn's logger with ``JsonAtoms``, an ISO 8601 time and typed values."""

    atoms_wrapper_class = JsonAtoms

    def now(self) -> str:
        return datetime.now(UTC).isoformat(timespec="milliseconds")

    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        # WSGI hands the path over as latin-1 text; the client sent UTF-8 (or bytes).
        path = atoms.get("U") or ""
        atoms["U"] = path.encode("latin-1", "replace").decode("utf-8", "replace")
        status = str(atoms.get("s", ""))
        atoms["s"] = int(status) if status.isdigit() else status
        for key in ("a", "f", "q"):
            if atoms.get(key) in ("-", ""):
                atoms[key] = None
        return atoms


logger_class = JsonAccessLogger
