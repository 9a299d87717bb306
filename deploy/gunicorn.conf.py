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
from datetime import UTC, datetime

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
