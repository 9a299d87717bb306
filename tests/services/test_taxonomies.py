"""Themes and publics: add, rename, merge and reorder, with search following."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from factories import make_initiative, make_organisation, make_public, make_theme, make_user

from directory.extensions import db
from directory.models import AuditLog, Initiative, Public, Role, Theme
from directory.search.indexing import drain
from directory.search.matching import matching_initiative_ids
from directory.services import taxonomies
from directory.services.browse import filter_choices

THEMES = taxonomies.KINDS["themes"]
PUBLICS = taxonomies.KINDS["publics"]


@pytest.fixture
def curator(app_ctx):
    user = make_user(role=Role.CURATOR)
    db.session.commit()
    return user


def _search_titles(text: str) -> set[str]:
    drain()
    ids = matching_initiative_ids(text)
    return set(db.session.scalars(sa.select(Initiative.title).where(Initiative.id.in_(ids))))


def test_add_gives_a_slug_and_refuses_a_name_twice_whatever_the_accents(curator):
    term = taxonomies.add(curator, THEMES, "  Économie   circulaire ", "Réemploi, réparation.")
    assert (term.slug, term.name) == ("economie-circulaire", "Économie circulaire")
    assert term.position == max(t.position for t, _ in taxonomies.terms(THEMES))
    with pytest.raises(taxonomies.TaxonomyError, match="existe déjà"):
        taxonomies.add(curator, THEMES, "economie CIRCULAIRE")
    for bad in ("", "   ", "\x00", "x" * 121):
        with pytest.raises(taxonomies.TaxonomyError):
            taxonomies.add(curator, THEMES, bad)


def test_rename_keeps_the_slug_and_updates_search(curator):
    theme = make_theme(name="Thème provisoire")
    make_initiative(title="Atelier vélo partagé", themes=[theme])
    db.session.commit()
    slug = theme.slug
    taxonomies.rename(curator, THEMES, theme, "Cyclologistique solidaire")
    assert db.session.scalar(sa.select(Theme.slug).where(Theme.name.like("Cyclo%"))) == slug
    assert "Atelier vélo partagé" in _search_titles("cyclologistique")
    assert (
        db.session.scalar(sa.select(AuditLog.details).where(AuditLog.action == "taxonomy.renamed"))[
            "new"
        ]
        == "Cyclologistique solidaire"
    )
    other = make_theme(name="Autre thème")
    db.session.commit()
    with pytest.raises(taxonomies.TaxonomyError):
        taxonomies.rename(curator, THEMES, other, "cyclologistique SOLIDAIRE")


def test_merge_moves_every_link_once_and_deletes_the_removed_term(curator):
    removed = make_theme(name="Lien social de quartier")
    kept = make_theme(name="Voisinage")
    both = make_initiative(title="Fête des voisins", themes=[removed, kept])
    only_removed = make_initiative(title="Repas partagé", themes=[removed])
    organisation = make_organisation(themes=[removed])
    db.session.commit()
    ids = (both.id, only_removed.id, organisation.id)
    removed_id = removed.id

    moved = taxonomies.merge(curator, THEMES, removed, kept)
    assert moved == 3
    assert db.session.get(Theme, removed_id) is None
    for initiative_id in ids[:2]:
        initiative = db.session.get(Initiative, initiative_id)
        assert [theme.name for theme in initiative.themes] == ["Voisinage"]
    assert "Repas partagé" in _search_titles("voisinage")
    # Facet and filter lists follow at once.
    assert "Lien social de quartier" not in {label for _, label in filter_choices().themes}
    with pytest.raises(taxonomies.TaxonomyError):
        taxonomies.merge(curator, THEMES, kept, kept)


def test_merge_of_publics(curator):
    removed, kept = make_public(name="Jeunes"), make_public(name="Jeunesse")
    initiative = make_initiative(publics=[removed])
    db.session.commit()
    taxonomies.merge(curator, PUBLICS, removed, kept)
    assert [p.name for p in db.session.get(Initiative, initiative.id).publics] == ["Jeunesse"]
    assert db.session.scalar(sa.select(Public).where(Public.name == "Jeunes")) is None


def test_move_swaps_with_the_neighbour(curator):
    names = [theme.name for theme, _ in taxonomies.terms(THEMES)]
    second = db.session.scalar(sa.select(Theme).where(Theme.name == names[1]))
    taxonomies.move(THEMES, second, "up")
    assert [t.name for t, _ in taxonomies.terms(THEMES)][:2] == [names[1], names[0]]
    taxonomies.move(THEMES, second, "up")  # already first: nothing moves
    assert next(t.name for t, _ in taxonomies.terms(THEMES)) == names[1]
