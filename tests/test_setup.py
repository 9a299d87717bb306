"""`flask setup`: migrations, gazetteer and seed, idempotent."""

from __future__ import annotations

import sqlalchemy as sa

from directory.extensions import db
from directory.services import setup

COUNTED = (
    "region",
    "departement",
    "commune",
    "organisation",
    "initiative",
    "event",
    "programme_item",
    "speaker",
    "theme",
    "place",
)


def _counts() -> dict[str, int]:
    return {table: db.session.scalar(sa.text(f"SELECT count(*) FROM {table}")) for table in COUNTED}


def test_setup_builds_everything_and_twice_changes_nothing(empty_app):
    with empty_app.app_context():
        setup.run(echo=lambda _m: None)
        first = _counts()
        assert first["commune"] > 5000
        assert first["organisation"] >= 6
        assert first["event"] >= 1
        snapshot = db.session.execute(
            sa.text("SELECT slug, title, updated_at FROM initiative ORDER BY slug")
        ).all()
        db.session.remove()

        setup.run(echo=lambda _m: None)
        assert _counts() == first
        assert (
            db.session.execute(
                sa.text("SELECT slug, title, updated_at FROM initiative ORDER BY slug")
            ).all()
            == snapshot
        )


def test_setup_keeps_a_curator_edit(app):
    with app.app_context():
        db.session.execute(
            sa.text(
                "UPDATE organisation SET description = 'Texte revu' "
                "WHERE slug = (SELECT min(slug) FROM organisation)"
            )
        )
        db.session.commit()
        setup.run(echo=lambda _m: None)
        assert (
            db.session.scalar(
                sa.text("SELECT count(*) FROM organisation WHERE description = 'Texte revu'")
            )
            == 1
        )


def test_setup_command_reports_progress(empty_app):
    result = empty_app.test_cli_runner().invoke(args=["setup"])
    assert result.exit_code == 0, result.output
    assert "migrations" in result.output
    assert "communes" in result.output
    assert "Installation terminée" in result.output


def test_migrations_match_the_models(app):
    """A model change without its migration fails here, not in production."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []
