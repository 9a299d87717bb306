"""``GET /sante``: 200 and every check when all is well, 503 naming the failed check, no secret."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask_migrate import stamp
from sqlalchemy.engine import make_url

from directory import create_app
from directory.config import sqlalchemy_url
from directory.extensions import db
from directory.models import Initiative, SearchOutbox, Status
from directory.models.base import utcnow
from directory.search import indexing
from directory.services.health import MIGRATIONS

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
CHECKS = {"database", "migrations", "search_index", "mail_outbox"}


@pytest.fixture
def indexed(app_ctx):
    """The seeded app with its search index built, as after ``flask setup``."""
    indexing.rebuild()
    return app_ctx


def get_health(client) -> tuple[int, dict, str]:
    response = client.get("/sante")
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    return response.status_code, response.get_json(), response.get_data(as_text=True)


def assert_no_secret(app, body: str) -> None:
    """Nothing that tells how the instance is reached or laid out, no exception text."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    leaks = [
        app.config["SECRET_KEY"],
        app.config["DATABASE_URL"],
        app.instance_path,
        str(url.database),
        "sqlite",
        "postgres",
        "Traceback",
        "Error",
        "/tmp",
    ]
    assert [leak for leak in leaks if leak and leak in body] == []


def test_all_well_gives_200_and_every_check(client, indexed):
    status, report, body = get_health(client)
    assert status == 200
    assert report["status"] == "ok"
    assert set(report["checks"]) == CHECKS
    assert {check["status"] for check in report["checks"].values()} == {"ok"}
    published = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Initiative)
        .where(Initiative.status == Status.PUBLISHED)
    )
    search = report["checks"]["search_index"]
    assert search["indexed"] == search["published"] >= published > 0
    assert search["pending_changes"] == 0
    migrations = report["checks"]["migrations"]
    assert migrations["current"] == migrations["head"]
    assert report["checks"]["mail_outbox"]["delivery"] == "outbox"
    assert report["checked_at"].endswith("Z")
    assert_no_secret(indexed, body)


def _unreachable_database_url(tmp_path) -> str:
    if PG_URL:
        missing = f"annuaire_absente_{uuid.uuid4().hex[:8]}"
        return make_url(sqlalchemy_url(PG_URL)).set(database=missing).render_as_string(False)
    return f"sqlite:///{tmp_path / 'dossier-absent' / 'annuaire.sqlite3'}"


def test_unreachable_database_gives_503_without_details(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": _unreachable_database_url(tmp_path),
            "SECRET_KEY": "test-secret-key-not-for-production",
        }
    )
    status, report, body = get_health(app.test_client())
    assert status == 503
    assert report["status"] == "error"
    checks = report["checks"]
    assert checks["database"]["status"] == "error"
    assert checks["migrations"]["status"] == checks["search_index"]["status"] == "error"
    assert "ne répond pas" in checks["migrations"]["message"]
    assert_no_secret(app, body)
    with app.app_context():
        db.engine.dispose()


def test_migrations_behind_give_503(client, indexed):
    oldest = ScriptDirectory(str(MIGRATIONS)).get_base()
    stamp(directory=str(MIGRATIONS), revision=oldest)
    status, report, body = get_health(client)
    assert status == 503
    migrations = report["checks"]["migrations"]
    assert migrations["status"] == "error"
    assert migrations["current"] == [oldest]
    assert migrations["head"] != [oldest]
    assert "flask setup" in migrations["message"]
    assert report["checks"]["database"]["status"] == "ok"
    assert_no_secret(indexed, body)


def test_unknown_revision_gives_503(client, indexed):
    db.session.execute(sa.text("UPDATE alembic_version SET version_num = 'ffff_from_the_future'"))
    db.session.commit()
    status, report, _ = get_health(client)
    assert status == 503
    assert "ne connaît pas" in report["checks"]["migrations"]["message"]


def test_stale_search_outbox_gives_503(client, indexed):
    initiative_id = db.session.scalar(sa.select(Initiative.id).limit(1))
    # A change recorded an hour ago and never applied (the process that made it died).
    db.session.add(
        SearchOutbox(
            entity_type="initiative",
            entity_id=initiative_id,
            created_at=utcnow() - timedelta(hours=1),
        )
    )
    db.session.commit()
    status, report, _ = get_health(client)
    assert status == 503
    search = report["checks"]["search_index"]
    assert search["status"] == "error"
    assert search["pending_changes"] == 1
    assert search["oldest_pending_seconds"] >= 3600
    assert "flask search process" in search["message"]


def test_fresh_search_outbox_is_fine(client, indexed):
    initiative_id = db.session.scalar(sa.select(Initiative.id).limit(1))
    db.session.add(SearchOutbox(entity_type="initiative", entity_id=initiative_id))
    db.session.commit()
    status, report, _ = get_health(client)
    assert status == 200
    assert report["checks"]["search_index"]["pending_changes"] == 1


def test_index_missing_an_entry_gives_503(client, indexed):
    initiative_id = db.session.scalar(
        sa.select(Initiative.id).where(Initiative.status == Status.PUBLISHED).limit(1)
    )
    with indexing.get_backend().writer(timeout=5) as writer:
        writer.remove("initiative", initiative_id)
    status, report, _ = get_health(client)
    assert status == 503
    search = report["checks"]["search_index"]
    assert search["indexed"] == search["published"] - 1
    assert "flask search verify" in search["message"]


def test_no_index_gives_503(client, app_ctx):
    status, report, _ = get_health(client)
    assert status == 503
    assert "flask search rebuild" in report["checks"]["search_index"]["message"]


def _old_mail(app) -> None:
    outbox = os.path.join(app.instance_path, "outbox")
    os.makedirs(outbox, exist_ok=True)
    path = os.path.join(outbox, "20200101T000000000000.eml")
    with open(path, "w") as handle:
        handle.write("Subject: Réinitialisation\n\nhttps://example.invalid/jeton-secret\n")
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))


def test_mail_waiting_without_smtp_is_reported_not_failed(client, indexed):
    _old_mail(indexed)
    status, report, body = get_health(client)
    assert status == 200
    outbox = report["checks"]["mail_outbox"]
    assert (outbox["delivery"], outbox["waiting"]) == ("outbox", 1)
    assert outbox["oldest_waiting_seconds"] >= 3600
    assert "jeton-secret" not in body


def test_mail_stuck_with_smtp_gives_503(client, indexed):
    indexed.config["MAIL_SERVER"] = "smtp.example.invalid"
    _old_mail(indexed)
    status, report, body = get_health(client)
    assert status == 503
    outbox = report["checks"]["mail_outbox"]
    assert (outbox["status"], outbox["delivery"], outbox["waiting"]) == ("error", "smtp", 1)
    assert "smtp.example.invalid" not in body


def test_not_subject_to_the_api_rate_limit(client, indexed):
    indexed.config["API_RATE_LIMIT"] = "2 per minute"
    api = [client.get("/api/v1/openapi.json").status_code for _ in range(4)]
    assert api[-1] == 429  # the limit is live for the API...
    assert {client.get("/sante").status_code for _ in range(6)} == {200}  # ...not for /sante


def test_served_by_gunicorn(gunicorn_server):
    server = gunicorn_server(workers=2)
    # The indexer started beside the workers builds the missing index in the first seconds.
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(server("/sante"), timeout=30) as response:
                assert response.headers["Cache-Control"] == "no-store"
                report = json.load(response)
            break
        except urllib.error.HTTPError as error:
            error.close()
            assert time.monotonic() < deadline, f"never healthy:\n{server.log()[-3000:]}"
            time.sleep(0.5)
    assert report["status"] == "ok"
    assert set(report["checks"]) == CHECKS


def test_served_by_gunicorn_says_503_when_the_index_is_missing(gunicorn_server):
    # No indexer beside the worker (it would build the index at once).
    server = gunicorn_server(workers=1, env={"SEARCH_INDEXER": "request"})
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(server("/sante"), timeout=30)
    assert raised.value.code == 503
    report = json.load(raised.value)
    assert report["checks"]["search_index"]["status"] == "error"
