"""Annuaire de l'innovation sociale — application factory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from .application import Directory
from .config import ROOT, instance_path_from_env, load_config
from .extensions import csrf, db, login_manager, migrate


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` overrides everything else (tests use it)."""
    # Every file the app writes (database and its WAL, secret key, outbox mails with reset
    # links, uploads, search index) is for its own user only. The umask is process-wide: fine,
    # as the process writes nothing another user must read (nginx serves /static from the repo).
    os.umask(0o077)
    config = dict(config or {})
    instance_path = Path(config.pop("INSTANCE_PATH", None) or instance_path_from_env())
    app = Directory(
        __name__,
        instance_path=str(instance_path),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_mapping(load_config(instance_path, config))

    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(ROOT / "migrations"), render_as_batch=True, compare_type=True
    )
    login_manager.init_app(app)
    csrf.init_app(app)
    with app.app_context():
        _configure_engine(db.engine)

    from . import models  # noqa: F401 - registers the tables on the metadata
    from .search import init_app as init_search
    from .web import init_app as init_web
    from .web.converters import init_app as init_converters

    init_converters(app)  # before any route: out-of-range ids and NUL bytes route nowhere
    init_search(app)
    init_web(app)

    proxies = int(app.config["PROXY_COUNT"])
    if proxies:
        # Trust exactly the configured proxies, never a raw client-sent X-Forwarded-For;
        # never X-Forwarded-Host: links come from PUBLIC_URL and the Host is checked as sent.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    from .cli import init_app as init_cli

    init_cli(app)
    return app


def _configure_engine(engine) -> None:
    """SQLite: WAL journal, enforced foreign keys, and patience with concurrent writers."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA busy_timeout = 10000")
        cursor.close()
