"""Fixtures: each test gets its own database, copied from a template built once.

The template is made by the real ``setup`` (migrations, gazetteer, seed), so tests run against
exactly what a newcomer gets. ``TEST_DATABASE_URL=postgresql://...`` runs the suite on PostgreSQL
(one fresh database per test, cloned with ``CREATE DATABASE ... TEMPLATE``).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

from directory import create_app
from directory.config import sqlalchemy_url
from directory.extensions import db

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
RUN_ID = uuid.uuid4().hex[:8]


def _admin_engine() -> sa.Engine:
    url = make_url(sqlalchemy_url(PG_URL)).set(database="postgres")
    return sa.create_engine(url, isolation_level="AUTOCOMMIT")


def _pg_database_url(name: str) -> str:
    return make_url(sqlalchemy_url(PG_URL)).set(database=name).render_as_string(hide_password=False)


class Databases:
    """Creates empty or pre-seeded databases for one test session."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.counter = 0
        self.created: list[str] = []
        self.template_url: str | None = None

    def empty(self) -> str:
        self.counter += 1
        if PG_URL:
            name = f"annuaire_test_{RUN_ID}_{self.counter}"
            with _admin_engine().connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            self.created.append(name)
            return _pg_database_url(name)
        return f"sqlite:///{self.workdir / f'db{self.counter}.sqlite3'}"

    def seeded(self) -> str:
        """A copy of the template database (migrated, gazetteer and seed loaded)."""
        if self.template_url is None:
            self.template_url = self._build_template()
        self.counter += 1
        if PG_URL:
            template = make_url(self.template_url).database
            name = f"annuaire_test_{RUN_ID}_{self.counter}"
            with _admin_engine().connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            self.created.append(name)
            return _pg_database_url(name)
        target = self.workdir / f"db{self.counter}.sqlite3"
        shutil.copyfile(make_url(self.template_url).database, target)
        return f"sqlite:///{target}"

    def _build_template(self) -> str:
        url = self.empty()
        app = create_app(_test_config(self.workdir / "template-instance", url))
        with app.app_context():
            from directory.services import setup

            setup.run(echo=lambda _message: None)
            db.session.remove()
            db.engine.dispose()
        if not PG_URL:
            # Fold the WAL into the main file so that a plain copy is complete.
            path = make_url(url).database
            with sqlite3.connect(path) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                conn.execute("PRAGMA journal_mode = DELETE")
        return url

    def drop_all(self) -> None:
        if not PG_URL:
            return
        with _admin_engine().connect() as conn:
            for name in self.created:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _test_config(instance: Path, database_url: str) -> dict:
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": database_url,
        "SEARCH_INDEX_DIR": str(instance / "search-index"),
        "SECRET_KEY": "test-secret-key-not-for-production",
    }


@pytest.fixture(scope="session")
def databases(tmp_path_factory) -> Iterator[Databases]:
    manager = Databases(tmp_path_factory.mktemp("databases"))
    yield manager
    manager.drop_all()


class ServerLikeClient(FlaskClient):
    """Reads and closes every response, as a WSGI server does: what the app runs once the
    response is closed (mails sent after the response) has run when a request returns."""

    def open(self, *args, buffered: bool = True, **kwargs):
        response = super().open(*args, buffered=buffered, **kwargs)
        # werkzeug closes the request body (a temporary file past 500 KB) only after following
        # redirects; a server drops it with the request.
        response.request.input_stream.close()
        return response


def _make_app(tmp_path: Path, url: str):
    app = create_app(_test_config(tmp_path / "instance", url))
    app.test_client_class = ServerLikeClient
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(databases, tmp_path):
    """An app on its own copy of the seeded database."""
    yield from _make_app(tmp_path, databases.seeded())


@pytest.fixture
def empty_app(databases, tmp_path):
    """An app on an empty database (no tables): for testing set-up itself."""
    yield from _make_app(tmp_path, databases.empty())


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def app_ctx(app):
    """Run the test body inside an app context, to call services directly."""
    with app.app_context():
        yield app


@pytest.fixture
def sign_in(app):
    """Open a signed-in session for ``user`` on ``client`` (the sign-in form is tested apart).

    Accepts a detached, expired instance: the id is read from its identity key.
    """
    from directory.models import User
    from directory.web import sessions

    def _sign_in(client, user) -> None:
        user_id = sa.inspect(user).identity[0]
        with app.app_context():
            fresh = db.session.get(User, user_id)
            login_id = fresh.get_id()
        with client.session_transaction() as session:
            session["_user_id"] = login_id
            session["_fresh"] = True
            sessions.start(session)  # a session opened now, as the sign-in form does

    return _sign_in


@pytest.fixture
def csrf_token(app):
    """A valid CSRF token for ``client``'s session, as a form on one of its pages would carry."""
    from flask import session
    from flask_wtf.csrf import generate_csrf

    def _token(client) -> str:
        with client.session_transaction() as stored:
            raw = stored.get("csrf_token")
        with app.test_request_context():
            if raw:
                session["csrf_token"] = raw
            token = generate_csrf()
            raw = session["csrf_token"]
        with client.session_transaction() as stored:
            stored["csrf_token"] = raw
        return token

    return _token


@pytest.fixture
def gunicorn_server(databases, tmp_path):
    """Start real gunicorn servers on one shared seeded database: ``gunicorn_server(workers=2)``.

    Every server started by one test shares the same database (as app servers behind a load
    balancer do); each has its own instance folder. All are stopped at the end of the test.
    """
    from servers import GunicornServer

    database_url = databases.seeded()
    started: list[GunicornServer] = []

    def _start(workers: int = 2, env: dict | None = None, args: tuple = ()) -> GunicornServer:
        instance = tmp_path / f"server-{len(started) + 1}"
        server = GunicornServer(instance, database_url, workers=workers, env=env, args=args)
        started.append(server)
        return server.start()

    _start.database_url = database_url
    yield _start
    for server in started:
        server.stop()
