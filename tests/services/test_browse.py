"""The browse service: only published entries, filters, pagination and sorting."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from factories import (
    make_commune,
    make_event,
    make_initiative,
    make_organisation,
    make_theme,
    unique,
)
from flask import current_app, render_template

from directory.extensions import db
from directory.models import (
    Initiative,
    OrganisationKind,
    ProgrammeItem,
    ProgrammeKind,
    ProgrammeSpeaker,
    Speaker,
    Status,
)
from directory.services import browse
from directory.services.filters import InitiativeFilters

pytestmark = pytest.mark.usefixtures("app_ctx")


@pytest.fixture(autouse=True)
def _fresh_caches():
    browse.catalogue_cache.clear()


def _slugs(page: browse.Page) -> list[str]:
    return [item.slug for item in page.items]


def _published_count() -> int:
    return db.session.scalar(
        sa.select(sa.func.count(Initiative.id)).where(Initiative.status == Status.PUBLISHED)
    )


def test_only_published_initiatives_are_listed():
    published = make_initiative(title="Publiée")
    draft = make_initiative(title="Brouillon", status=Status.DRAFT)
    proposed = make_initiative(title="Proposée", status=Status.PROPOSED)
    archived = make_initiative(title="Archivée", status=Status.ARCHIVED)
    db.session.commit()

    page = browse.list_initiatives(per_page=10_000)

    slugs = _slugs(page)
    assert published.slug in slugs
    assert not {draft.slug, proposed.slug, archived.slug} & set(slugs)
    assert page.total == _published_count()


def test_unpublished_initiative_has_no_sheet():
    draft = make_initiative(status=Status.DRAFT)
    archived = make_initiative(status=Status.ARCHIVED)
    published = make_initiative()
    db.session.commit()

    assert browse.get_initiative(draft.slug) is None
    assert browse.get_initiative(archived.slug) is None
    assert browse.get_initiative("aucune-initiative-de-ce-nom") is None
    assert browse.get_initiative(published.slug).initiative.id == published.id


def test_sheet_hides_unpublished_organisations_and_events():
    lead = make_organisation(name="Porteur public")
    hidden = make_organisation(name="Partenaire brouillon", status=Status.DRAFT)
    initiative = make_initiative(lead=lead, partners=(hidden,), commune="13055")
    shown_event = make_event(title="Journée publiée")
    draft_event = make_event(title="Journée en préparation", status=Status.DRAFT)
    shown_event.initiatives.append(initiative)
    draft_event.initiatives.append(initiative)
    db.session.commit()

    sheet = browse.get_initiative(initiative.slug)

    assert [link.organisation.name for link in sheet.organisation_links] == ["Porteur public"]
    assert [event.title for event in sheet.events] == ["Journée publiée"]
    assert [commune.name for commune in sheet.communes] == ["Marseille"]


def test_filter_by_theme():
    theme = make_theme(name="Participation des habitants")
    other = make_theme()
    inside = make_initiative(title="Avec le thème")
    inside.themes.append(theme)
    outside = make_initiative(title="Autre thème")
    outside.themes.append(other)
    hidden = make_initiative(title="Thème mais brouillon", status=Status.DRAFT)
    hidden.themes.append(theme)
    db.session.commit()

    page = browse.list_initiatives(InitiativeFilters(themes=(theme.slug,)))

    assert _slugs(page) == [inside.slug]
    assert page.total == 1


def test_filter_by_departement_through_places():
    marseille = make_initiative(title="À Marseille", commune="13055")
    montpellier = make_initiative(title="À Montpellier", commune="34172")
    db.session.commit()

    in_13 = _slugs(
        browse.list_initiatives(InitiativeFilters(departements=("13",)), per_page=10_000)
    )
    in_34 = _slugs(
        browse.list_initiatives(InitiativeFilters(departements=("34",)), per_page=10_000)
    )

    assert marseille.slug in in_13 and montpellier.slug not in in_13
    assert montpellier.slug in in_34 and marseille.slug not in in_34


def test_filters_from_a_bad_query_string_are_reported_not_raised():
    filters = InitiativeFilters.from_args({"departement": "zz", "stage": "nimportequoi"})
    page = browse.list_initiatives(filters)

    assert filters.errors
    assert page.total == _published_count()


def test_pagination_totals_and_clamping():
    prefix = unique("pagination")
    for number in range(45):
        make_initiative(title=f"{prefix} {number:02d}")
    db.session.commit()
    filters = InitiativeFilters(q=prefix)

    first = browse.list_initiatives(filters, page=1, per_page=20)
    last = browse.list_initiatives(filters, page=3, per_page=20)
    beyond = browse.list_initiatives(filters, page=99_999, per_page=20)

    assert (first.total, first.pages, len(first.items)) == (45, 3, 20)
    assert first.has_next and not first.has_prev
    assert (first.first_index, first.last_index) == (1, 20)
    assert len(last.items) == 5 and last.has_prev and not last.has_next
    assert (last.first_index, last.last_index) == (41, 45)
    assert beyond.page == 3 and _slugs(beyond) == _slugs(last)
    # Pages do not overlap and cover every row once.
    every = [s for n in (1, 2, 3) for s in _slugs(browse.list_initiatives(filters, page=n))]
    assert len(every) == len(set(every)) == 45


def test_empty_list_is_one_empty_page():
    page = browse.list_initiatives(InitiativeFilters(q="zzz-aucune-initiative-zzz"))
    assert (page.total, page.pages, page.items, page.first_index) == (0, 1, [], 0)
    assert not page.has_next and not page.has_prev


def test_sorting_by_title_year_and_update():
    prefix = unique("tri")
    old = make_initiative(title=f"{prefix} B", start_year=2005, updated_at=datetime(2020, 1, 1))
    new = make_initiative(title=f"{prefix} C", start_year=2011, updated_at=datetime(2010, 1, 1))
    undated = make_initiative(title=f"{prefix} A", start_year=None, updated_at=datetime(2024, 1, 1))
    db.session.commit()
    filters = InitiativeFilters(q=prefix)

    assert _slugs(browse.list_initiatives(filters, sort="titre")) == [
        undated.slug,
        old.slug,
        new.slug,
    ]
    assert _slugs(browse.list_initiatives(filters, sort="annee")) == [
        new.slug,
        old.slug,
        undated.slug,
    ]
    assert _slugs(browse.list_initiatives(filters, sort="recent")) == [
        undated.slug,
        old.slug,
        new.slug,
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, 1),
        ("", 1),
        ("abc", 1),
        ("-1", 1),
        ("0", 1),
        ("3", 3),
        (" 7 ", 7),
        ("99999999999999999999", 1),
        ("2.5", 1),
    ],
)
def test_parse_page(raw, expected):
    assert browse.parse_page(raw) == expected


def test_parse_sort_falls_back_to_default():
    assert browse.parse_sort("annee", browse.INITIATIVE_SORTS, "titre") == "annee"
    assert browse.parse_sort("nimportequoi", browse.INITIATIVE_SORTS, "titre") == "titre"


def test_page_window_has_ellipses():
    page = browse.Page(items=[1], total=400, page=10, per_page=20)
    assert page.window() == [1, None, 8, 9, 10, 11, 12, None, 20]
    assert browse.Page(items=[], total=0, page=1, per_page=20).window() == [1]


def test_organisations_published_filtered_by_kind_and_departement():
    prefix = unique("orga")
    association = make_organisation(name=f"{prefix} Association", commune_code=None)
    make_commune("13055")
    based_13 = make_organisation(
        name=f"{prefix} Collectivité", commune_code="13055", kind=OrganisationKind.COLLECTIVITE
    )
    draft = make_organisation(name=f"{prefix} Brouillon", status=Status.DRAFT)
    db.session.commit()

    everything = _slugs(browse.list_organisations(per_page=10_000))
    kind = _slugs(
        browse.list_organisations(browse.OrganisationFilters(kind="collectivite"), per_page=10_000)
    )
    in_13 = _slugs(
        browse.list_organisations(browse.OrganisationFilters(departement="13"), per_page=10_000)
    )

    assert association.slug in everything and based_13.slug in everything
    assert draft.slug not in everything
    assert based_13.slug in kind and association.slug not in kind
    assert based_13.slug in in_13 and association.slug not in in_13
    assert browse.get_organisation(draft.slug) is None


def test_organisation_filters_report_bad_values():
    filters = browse.OrganisationFilters.from_args({"type": "secte", "departement": "zz"})
    assert (filters.kind, filters.departement) == ("", "")
    assert len(filters.errors) == 2


def test_organisation_profile_lists_public_initiatives_with_roles_and_events():
    organisation = make_organisation(name="Voisins de test")
    led = make_initiative(title="Menée", lead=organisation)
    funded = make_initiative(title="Financée", funders=(organisation,))
    make_initiative(title="Cachée", lead=organisation, status=Status.DRAFT)
    make_event(title="Journée partenaire", partners=(organisation,))
    make_event(title="Journée brouillon", partners=(organisation,), status=Status.DRAFT)
    db.session.commit()

    profile = browse.get_organisation(organisation.slug)

    roles = [(link.initiative.slug, link.role.value) for link in profile.initiative_links]
    assert roles == [(funded.slug, "financeur"), (led.slug, "porteur")]
    assert profile.initiative_count == 2
    cut = browse.get_organisation(organisation.slug, initiatives=1)
    assert len(cut.initiative_links) == 1 and cut.initiative_count == 2
    assert [(event.title, labels) for event, labels in profile.events] == [
        ("Journée partenaire", ["Partenaire"])
    ]


def test_events_published_in_date_order_and_programme_grouped_by_section():
    draft = make_event(title="Brouillon", status=Status.DRAFT)
    event = make_event(title="Journée de test")
    speaker = Speaker(name="Jeanne Martin", role="Directrice", organisation_name="Une asso")
    for position, (section, title) in enumerate(
        [
            ("Matinée", "Accueil"),
            ("Matinée", "Table ronde"),
            ("Après-midi", "Ateliers"),
        ]
    ):
        item = ProgrammeItem(
            position=position, section=section, title=title, kind=ProgrammeKind.ACCUEIL
        )
        event.programme.append(item)
    event.programme[1].speaker_links.append(ProgrammeSpeaker(speaker=speaker))
    db.session.commit()

    listed = [e.slug for e in browse.list_events()]
    page = browse.get_event(event.slug)

    assert event.slug in listed and draft.slug not in listed
    assert browse.get_event(draft.slug) is None
    assert [(s.title, [i.title for i in s.items]) for s in page.sections] == [
        ("Matinée", ["Accueil", "Table ronde"]),
        ("Après-midi", ["Ateliers"]),
    ]
    assert page.sections[0].items[1].speaker_links[0].speaker.name == "Jeanne Martin"


def test_home_overview_counts_published_entries_only():
    before = browse.home_overview()
    make_initiative(commune="30189")
    make_initiative(status=Status.DRAFT, commune="06088")
    make_organisation()
    make_organisation(status=Status.ARCHIVED)
    make_event()
    db.session.commit()

    after = browse.home_overview()

    assert after.figures.initiatives == before.figures.initiatives + 1
    assert after.figures.organisations == before.figures.organisations + 1
    assert after.figures.events == before.figures.events + 1
    assert after.figures.communes >= 1
    assert all(i.is_published for i in after.recent)


def test_theme_counts_count_published_only():
    theme = make_theme()
    for status in (Status.PUBLISHED, Status.PUBLISHED, Status.DRAFT):
        make_initiative(status=status, themes=[theme])
    db.session.commit()

    counts = {t.slug: n for t, n in browse.theme_counts()}
    assert counts[theme.slug] == 2


def test_departement_overview():
    make_commune("84007")
    inside = make_initiative(title="Dans le Vaucluse", commune="84007")
    make_initiative(title="Dans le Vaucluse mais brouillon", commune="84007", status=Status.DRAFT)
    organisation = make_organisation(name="Basée à Avignon", commune_code="84007")
    db.session.commit()

    overview = browse.departement_overview("84")

    assert overview.departement.name == "Vaucluse"
    assert ("paca", "Provence-Alpes-Côte d'Azur") in overview.groupings
    assert inside.slug in _slugs(overview.initiatives)
    assert overview.figures.initiatives == overview.initiatives.total
    assert overview.figures.communes >= 1
    assert organisation.slug in [o.slug for o in overview.organisations]  # loaded apart
    assert browse.departement_overview("zz") is None
    assert browse.departement_overview("99") is None


def _statements_while(action) -> int:
    count = 0

    def counter(*_args, **_kwargs):
        nonlocal count
        count += 1

    sa.event.listen(db.engine, "before_cursor_execute", counter)
    try:
        action()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", counter)
    return count


def test_list_queries_do_not_grow_with_the_page_size():
    prefix = unique("requetes")
    theme = make_theme()
    for number in range(20):
        lead = make_organisation(name=f"{prefix} porteur {number}")
        make_initiative(title=f"{prefix} {number:02d}", lead=lead, commune="13055", themes=[theme])
    db.session.commit()

    def show(per_page: int):
        def action():
            db.session.expire_all()
            for initiative in browse.list_initiatives(
                InitiativeFilters(q=prefix), per_page=per_page
            ).items:
                # What a card reads.
                _ = [o.name for o in initiative.lead_organisations]
                _ = [p.commune.label for p in initiative.places]
                _ = [t.name for t in initiative.themes]

        return action

    assert _statements_while(show(2)) == _statements_while(show(20))


# --- The home and territory pages' cache ------------------------------------------------------


def test_home_overview_is_read_once_per_catalogue_version():
    browse.home_overview()

    # What a cached home page costs: the version read twice (cards, then counts).
    assert _statements_while(browse.home_overview) == 2


def test_an_edited_summary_rebuilds_the_cards_not_the_counts():
    initiative = make_initiative(title=unique("Relue"))
    db.session.commit()
    browse.home_overview()
    initiative.summary = "Un résumé relu par la conservatrice."
    db.session.commit()

    statements = _statements_while(browse.home_overview)

    fresh = browse.home_overview()
    assert {i.slug: i.summary for i in fresh.recent}[initiative.slug] == initiative.summary
    browse.catalogue_cache.clear()
    assert statements < _statements_while(browse.home_overview)


def test_home_overview_shows_a_commit_of_this_process_at_once():
    theme = make_theme()
    before = browse.home_overview()
    initiative = make_initiative(title=unique("Toute nouvelle"), themes=[theme])
    db.session.commit()

    after = browse.home_overview()

    assert after.figures.initiatives == before.figures.initiatives + 1
    assert after.recent[0].slug == initiative.slug
    assert {t.slug: n for t, n in after.themes}[theme.slug] == 1


# Another process of the same site: its own app, engine and hooks, on the same database.
PUBLISH_IN_ANOTHER_PROCESS = """
import sys
import sqlalchemy as sa
from directory import create_app
from directory.extensions import db
from directory.models import Initiative, Status

instance, url, slug = sys.argv[1:]
app = create_app({
    "TESTING": True, "INSTANCE_PATH": instance, "DATABASE_URL": url,
    "SEARCH_INDEX_DIR": instance + "/search-index", "SECRET_KEY": "another-process",
})
with app.app_context():
    initiative = db.session.scalar(sa.select(Initiative).where(Initiative.slug == slug))
    initiative.status = Status.PUBLISHED
    db.session.commit()
"""


def test_home_overview_shows_a_publication_by_another_process_at_once(tmp_path):
    draft = make_initiative(title=unique("Publiée ailleurs"), status=Status.DRAFT)
    db.session.commit()
    before = browse.home_overview()

    subprocess.run(
        [
            *(sys.executable, "-c", PUBLISH_IN_ANOTHER_PROCESS),
            *(str(tmp_path / "other"), db.engine.url.render_as_string(hide_password=False)),
            draft.slug,
        ],
        check=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=120,
    )

    after = browse.home_overview()
    assert after.figures.initiatives == before.figures.initiatives + 1
    assert after.recent[0].slug == draft.slug


def test_cached_home_overview_renders_after_the_request_session_commits():
    make_initiative(commune="13055", lead=make_organisation(), themes=[make_theme()])
    make_event()
    db.session.commit()
    overview = browse.home_overview()
    make_organisation()
    db.session.commit()  # expires what this session holds, not what the cache holds
    db.session.close()

    with current_app.test_request_context("/"):
        page = render_template("public/home.html", overview=browse.home_overview())

    assert browse.home_overview() is not overview  # the commit changed the stamp
    assert overview.recent[0].title in page


def test_departement_overview_shows_a_commit_of_this_process_at_once():
    make_commune("84007")
    before = browse.departement_overview("84")
    assert browse.departement_overview("84") is before
    inside = make_initiative(title=unique("Vauclusienne"), commune="84007")
    db.session.commit()

    after = browse.departement_overview("84")

    assert after.figures.initiatives == before.figures.initiatives + 1
    assert inside.slug in _slugs(browse.departement_overview("84", per_page=10_000).initiatives)
