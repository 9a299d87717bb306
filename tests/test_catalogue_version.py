"""The catalogue version: what moves it, what does not, and who sees it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from factories import make_initiative, make_theme, make_user
from sqlalchemy import orm

from directory import catalogue_version
from directory.extensions import db
from directory.models import Initiative, Place, Status

pytestmark = pytest.mark.usefixtures("app_ctx")


def _published() -> Initiative:
    initiative = make_initiative(title="Jardin partagé du quartier")
    db.session.commit()
    return initiative


def test_an_edited_summary_moves_the_content_only():
    initiative = _published()
    before = catalogue_version.current()

    initiative.summary = "Un résumé relu."
    db.session.commit()

    after = catalogue_version.current()
    assert after.content > before.content
    assert after.membership == before.membership


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda i: setattr(i, "status", Status.ARCHIVED), id="status"),
        pytest.param(lambda i: i.themes.append(make_theme()), id="theme link"),
        pytest.param(lambda i: i.places.append(Place(latitude=43.3, longitude=5.4)), id="place"),
        pytest.param(lambda i: setattr(i, "start_year", 2011), id="year"),
        pytest.param(lambda i: setattr(i, "featured_position", 1), id="featured"),
    ],
)
def test_what_a_filter_or_the_map_reads_moves_both(change):
    initiative = _published()
    before = catalogue_version.current()

    change(initiative)
    db.session.commit()

    after = catalogue_version.current()
    assert after.content > before.content
    assert after.membership > before.membership


def test_a_bulk_update_moves_both():
    initiative = _published()
    before = catalogue_version.current()

    db.session.execute(
        sa.update(Initiative).where(Initiative.id == initiative.id).values(stage=None)
    )
    db.session.commit()

    assert catalogue_version.current().membership > before.membership


def test_a_rolled_back_change_and_a_non_catalogue_write_move_nothing():
    initiative = _published()
    before = catalogue_version.current()

    initiative.status = Status.ARCHIVED
    db.session.flush()
    db.session.rollback()
    make_user()
    db.session.commit()

    assert catalogue_version.current() == before


def test_a_change_after_a_rolled_back_savepoint_still_moves_the_version():
    initiative = _published()
    before = catalogue_version.current()

    savepoint = db.session.begin_nested()
    initiative.summary = "Écrit puis annulé."
    db.session.flush()
    savepoint.rollback()
    initiative.status = Status.ARCHIVED
    db.session.commit()

    assert catalogue_version.current().membership > before.membership


def test_a_commit_through_another_engine_is_seen_at_once():
    """Another worker or server: its own engine and session on the same database."""
    initiative = _published()
    before = catalogue_version.current()
    db.session.commit()  # end this session's read transaction, as a request does

    other = sa.create_engine(db.engine.url)
    with orm.Session(other) as session:
        session.get(Initiative, initiative.id).title = "Renommée ailleurs"
        session.commit()
    other.dispose()

    assert catalogue_version.current().content == before.content + 1


def test_a_new_epoch_matches_no_earlier_version():
    before = catalogue_version.current()

    with db.engine.begin() as connection:
        catalogue_version.new_epoch(connection)

    assert catalogue_version.current().epoch != before.epoch
