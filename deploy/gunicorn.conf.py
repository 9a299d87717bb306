"""gunicorn settings for the directory, used by ``make run`` and in production.

``gunicorn -c deploy/gunicorn.conf.py "directory:create_app()"``. The address comes from
``--bind`` (``make run`` passes ``HOST:PORT``), the number of workers from ``--workers`` or
``WEB_CONCURRENCY``.

gevent workers: a client that sends its request slowly, or keeps an idle connection open, holds a
cheap greenlet instead of a whole worker (sync) or thread (gthread), so slow clients cannot stall
the site. In production nginx buffers requests in front as well (``deploy/nginx.conf``).
"""

import os

worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_connections = 1000
# A worker silent this long is restarted; a request never legitimately runs longer.
timeout = 30
graceful_timeout = 30
# Idle keep-alive connections are closed after this many seconds.
keepalive = 5
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
