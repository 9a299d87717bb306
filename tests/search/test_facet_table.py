"""The in-memory facet table follows the catalogue: changes show in the very next search."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from factories import make_commune, make_departement, make_event, make_initiative, make_theme
from search_helpers import run_search

from directory.extensions import db
from directory.models import Initiative, Place, Stage, Status, initiative_departement
from directory.search import facet_table


def _counts(**args) -> dict[str, dict[str, int]]:
    outcome = run_search(**args)
    return {facet.name: {v.value: v.count for v in facet.values} for facet in outcome.facets}


@pytest.fixture
def weavers(app_ctx):
    theme = make_theme(name="Vannerie solidaire")
    event = make_event(title="Rencontre des vanniers")
    made = [
        make_initiative(
            title=f"Vanniers {number}",
            commune="13055",
            stage=Stage.IDEE,
            start_year=2011,
            themes=[theme],
        )
        for number in range(3)
    ]
    event.initiatives.append(made[0])
    draft = make_initiative(
        title="Vanniers en brouillon", status=Status.DRAFT, commune="13055", themes=[theme]
    )
    db.session.commit()
    return {"theme": theme, "event": event, "published": made, "draft": draft}


def test_publishing_and_archiving_change_the_counts_at_once(weavers):
    theme = weavers["theme"].slug
    assert _counts(q="vanniers")["theme"][theme] == 3

    weavers["draft"].status = Status.PUBLISHED
    db.session.commit()
    counts = _counts(q="vanniers")
    assert counts["theme"][theme] == 4
    assert counts["departement"]["13"] == 4

    weavers["published"][0].status = Status.ARCHIVED
    db.session.commit()
    counts = _counts(q="vanniers")
    assert counts["theme"][theme] == 3
    assert "evenement" not in counts  # the archived one was the event's only initiative


def test_edits_of_links_change_the_counts_at_once(weavers):
    other = make_theme(name="Osier et rotin")
    db.session.commit()
    assert other.slug not in _counts(q="vanniers")["theme"]

    first, second, _ = weavers["published"]
    first.themes.append(other)
    first.stage = Stage.EXPERIMENTATION
    first.start_year = 2012
    second.places[0].commune_code = make_commune("34172").code
    db.session.commit()
    counts = _counts(q="vanniers")
    assert counts["theme"][other.slug] == 1
    assert counts["stage"] == {Stage.IDEE.value: 2, Stage.EXPERIMENTATION.value: 1}
    assert counts["annee"] == {"2011": 2, "2012": 1}
    assert counts["departement"].get("34") == 1 and counts["departement"]["13"] == 2

    weavers["event"].initiatives.append(second)
    db.session.commit()
    assert _counts(q="vanniers")["evenement"][weavers["event"].slug] == 2


def test_changes_outside_this_session_hooks_are_seen(weavers):
    """A write that bypasses this process's hooks (as another process's would) is caught by
    the stamp when it touches ``initiative``, and by the age limit otherwise. Counted without
    words: such a write does not reach the search index either."""
    theme = weavers["theme"].slug
    assert _counts(theme=theme)["theme"][theme] == 3
    draft_id = weavers["draft"].id
    db.session.execute(
        sa.update(Initiative)
        .where(Initiative.id == draft_id)
        .values(status=Status.PUBLISHED, updated_at=sa.func.current_timestamp())
    )
    db.session.commit()
    assert _counts(theme=theme)["theme"][theme] == 4

    make_departement("06")
    db.session.commit()
    first = weavers["published"][0]
    db.session.execute(
        sa.insert(initiative_departement).values(initiative_id=first.id, departement_code="06")
    )
    db.session.commit()
    assert "06" not in _counts(theme=theme)["departement"]  # within the age limit: unchanged
    table = facet_table.get_table()
    object.__setattr__(table, "loaded_at", table.loaded_at - facet_table.MAX_AGE - 1)
    assert _counts(theme=theme)["departement"]["06"] == 1


def test_the_table_is_kept_while_nothing_changes(weavers):
    table = facet_table.get_table()
    run_search(q="vanniers")
    assert facet_table.get_table() is table
    db.session.add(Place(initiative_id=weavers["published"][1].id, commune_code="13055"))
    db.session.commit()
    assert facet_table.get_table() is not table


def test_ids_outside_the_published_catalogue_are_ignored(weavers):
    table = facet_table.get_table()
    published = weavers["published"][0].id
    mask = table.mask_of({weavers["draft"].id, published, 0, 10**9})
    assert mask.sum() == 1 and table.ids[mask][0] == published
    assert not table.mask_of(set()).any()
    assert table.mask_of(None).all()


def _content(table: facet_table.FacetTable) -> dict:
    """What a table says, independent of its row numbering and value codes."""
    content = {
        "initiatives": sorted(
            zip(table.ids.tolist(), table.stages.tolist(), table.years.tolist(), strict=True)
        )
    }
    for name in ("themes", "publics", "departements", "events", "organisations"):
        pairs = getattr(table, name)
        content[name] = sorted(
            (int(table.ids[row]), pairs.values[code])
            for row, code in zip(pairs.rows.tolist(), pairs.codes.tolist(), strict=True)
        )
    return content


def test_own_edits_patch_the_table_as_a_full_reload_would(weavers):
    table = facet_table.get_table()
    other = make_theme(name="Osier et rotin")
    first, second, third = weavers["published"]
    first.themes.append(other)
    first.stage = Stage.EXPERIMENTATION
    second.status = Status.ARCHIVED
    weavers["draft"].status = Status.PUBLISHED
    third.places[0].commune_code = make_commune("34172").code
    weavers["event"].initiatives.append(third)
    new = make_initiative(title="Vanniers nouveaux", commune="13055", start_year=2020)
    db.session.commit()
    db.session.delete(first)
    db.session.commit()

    patched = facet_table.get_table()
    assert patched.loaded_at == table.loaded_at  # patched, not reloaded
    assert new.id in patched.ids.tolist() and first.id not in patched.ids.tolist()
    assert _content(patched) == _content(facet_table._load(patched.stamp))


def test_another_process_change_with_own_pending_edits_reloads_the_table(weavers):
    table = facet_table.get_table()
    weavers["published"][0].start_year = 2015
    db.session.commit()
    draft_id = weavers["draft"].id
    db.session.execute(  # as another process would, after this process's commit
        sa.update(Initiative)
        .where(Initiative.id == draft_id)
        .values(status=Status.PUBLISHED, updated_at=sa.func.current_timestamp())
    )
    db.session.commit()
    fresh = facet_table.get_table()
    assert fresh.loaded_at > table.loaded_at  # reloaded whole
    assert draft_id in fresh.ids.tolist()
    counts = _counts(theme=weavers["theme"].slug)
    assert counts["theme"][weavers["theme"].slug] == 4
    assert counts["annee"] == {"2011": 2, "2015": 1}
