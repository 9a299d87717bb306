"""Generated demo data: creation, content, statistics of the text, removal and the CLI."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest
from factories import make_departement, make_initiative, make_organisation
from flask_migrate import upgrade
from sqlalchemy import func, select

from directory.config import ROOT
from directory.extensions import db
from directory.models import (
    Commune,
    Departement,
    Initiative,
    InitiativeOrganisation,
    Organisation,
    OrganisationRole,
    Place,
    Public,
    Region,
    Stage,
    Status,
    Theme,
    initiative_departement,
    initiative_public,
    initiative_theme,
    organisation_departement,
    organisation_theme,
)
from directory.services import demo
from directory.services.demo_text import FrenchTextGenerator, join_french, of_place

DEMO_DEPARTEMENTS = {"04", "05", "06", "13", "83", "84", "11", "30", "34", "48", "66"}
REFERENCE_TEXT = ROOT.parent / "shared" / "reference" / "programme-journee-regionale-2011.txt"
WORD = re.compile(r"[a-zàâäéèêëîïôöùûüçœæ]+(?:-[a-zàâäéèêëîïôöùûüçœæ]+)*")
FUNCTION_WORDS = {
    "de", "la", "le", "les", "l", "d", "des", "du", "et", "à", "au", "aux", "un", "une", "en",
    "sur", "pour", "par", "dans", "est", "il", "elle", "qui", "que", "qu", "ne", "pas", "se",
    "ce", "a", "avec", "plus", "on", "son", "sa", "ses", "leur", "leurs", "ou", "mais", "s",
}  # fmt: skip

# Real communes (INSEE code, name, département, town-hall point, population) for databases where
# the gazetteer is not loaded; Lyon is outside the two régions and must never be picked.
COMMUNES = (
    ("13055", "Marseille", "13", 43.2965, 5.3698, 873076),
    ("06088", "Nice", "06", 43.7031, 7.2661, 348085),
    ("84031", "Carpentras", "84", 44.0556, 5.0481, 28877),
    ("05061", "Gap", "05", 44.5594, 6.0786, 40895),
    ("34172", "Montpellier", "34", 43.6109, 3.8763, 302454),
    ("30189", "Nîmes", "30", 43.8367, 4.3601, 148104),
    ("48095", "Mende", "48", 44.5181, 3.5006, 14902),
    ("66136", "Perpignan", "66", 42.6986, 2.8956, 119656),
    ("11262", "Narbonne", "11", 43.1839, 3.0042, 56692),
)
OUTSIDE = ("69123", "Lyon", "69", 45.7640, 4.8357, 522250)


def _ensure_commune(code, name, departement, latitude, longitude, population) -> None:
    commune = db.session.get(Commune, code)
    if commune is None:
        commune = Commune(
            code=code, name=name, search_name=name.lower(), departement_code=departement
        )
        db.session.add(commune)
    if commune.latitude is None:
        commune.latitude, commune.longitude = latitude, longitude
        commune.population = population


@pytest.fixture
def territory(app_ctx):
    """Communes with coordinates, themes and publics, whether or not setup loaded them."""
    for row in COMMUNES:
        make_departement(row[2])
        _ensure_commune(*row)
    if db.session.get(Departement, "69") is None:
        if db.session.get(Region, "84") is None:
            db.session.add(
                Region(code="84", name="Auvergne-Rhône-Alpes", slug="auvergne-rhone-alpes")
            )
        db.session.add(Departement(code="69", name="Rhône", region_code="84"))
        db.session.flush()
    _ensure_commune(*OUTSIDE)
    if not db.session.scalar(select(func.count()).select_from(Theme)):
        for position, name in enumerate(("Emploi", "Jeunesse", "Numérique")):
            db.session.add(Theme(slug=name.lower(), name=name, position=position))
    if not db.session.scalar(select(func.count()).select_from(Public)):
        for position, name in enumerate(("Familles", "Seniors")):
            db.session.add(Public(slug=name.lower(), name=name, position=position))
    db.session.commit()
    return app_ctx


def _count(table, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(table).where(*where))


def _table_counts() -> dict[str, int]:
    tables = (
        Initiative.__table__,
        Organisation.__table__,
        Place.__table__,
        InitiativeOrganisation.__table__,
        initiative_theme,
        initiative_public,
        initiative_departement,
        organisation_theme,
        organisation_departement,
    )
    return {table.name: _count(table) for table in tables}


def test_create_adds_flagged_rows(territory):
    created = demo.create_demo_data(50, seed=7)

    assert created["initiatives"] == 50
    assert created["organisations"] == 5
    assert _count(Initiative, Initiative.is_demo.is_(True)) == 50
    assert _count(Organisation, Organisation.is_demo.is_(True)) == 5
    demo_places = _count(
        Place, Place.initiative_id.in_(select(Initiative.id).where(Initiative.is_demo.is_(True)))
    )
    assert demo_places == created["places"]
    assert 50 <= demo_places <= 150


def test_generated_fields_are_plausible(territory):
    demo.create_demo_data(50, seed=7)
    initiatives = db.session.scalars(select(Initiative).where(Initiative.is_demo)).all()

    assert len({initiative.slug for initiative in initiatives}) == 50
    for initiative in initiatives:
        assert initiative.title and initiative.title[0].isupper()
        assert initiative.summary and len(initiative.summary) <= 300
        assert 80 <= len(initiative.description.split()) <= 400
        assert initiative.description[0].isupper() and initiative.description.endswith(".")
        assert initiative.version == 1
        assert initiative.status in {Status.PUBLISHED, Status.DRAFT, Status.ARCHIVED}
        assert 2005 <= initiative.start_year <= 2026
        if initiative.stage == Stage.TERMINEE:
            assert initiative.start_year < initiative.end_year <= 2026
        else:
            assert initiative.end_year is None
        if initiative.website:
            assert re.fullmatch(r"https://[a-z0-9-]+\.example/", initiative.website)
        if initiative.contact_email:
            assert initiative.contact_email.endswith("@example.org")
        assert initiative.created_at <= initiative.updated_at
    statuses = Counter(initiative.status for initiative in initiatives)
    assert statuses[Status.PUBLISHED] >= 40
    assert any(initiative.genesis for initiative in initiatives)
    assert any(initiative.genesis is None for initiative in initiatives)
    for organisation in db.session.scalars(select(Organisation).where(Organisation.is_demo)):
        assert organisation.name
        assert organisation.commune_code
        if organisation.website:
            assert organisation.website.endswith(".example/")
        if organisation.email:
            assert organisation.email.endswith("@example.org")


def test_places_lie_in_the_two_regions(territory):
    demo.create_demo_data(50, seed=7)
    rows = db.session.execute(
        select(
            Place.latitude,
            Place.longitude,
            Commune.latitude,
            Commune.longitude,
            Commune.departement_code,
        )
        .join(Commune, Commune.code == Place.commune_code)
        .join(Initiative, Initiative.id == Place.initiative_id)
        .where(Initiative.is_demo)
    ).all()

    assert rows and len(rows) == _count(
        Place, Place.initiative_id.in_(select(Initiative.id).where(Initiative.is_demo))
    )
    for latitude, longitude, commune_latitude, commune_longitude, departement in rows:
        assert departement in DEMO_DEPARTEMENTS
        assert abs(latitude - commune_latitude) <= 0.01
        assert abs(longitude - commune_longitude) <= 0.01


def test_communes_are_weighted_by_population(territory):
    demo.create_demo_data(200, seed=11)
    codes = Counter(
        db.session.scalars(select(Place.commune_code).join(Initiative).where(Initiative.is_demo))
    )
    # Marseille, by far the most populous commune of the two régions, comes first.
    assert codes.most_common(1)[0][0] == "13055"
    assert "69123" not in codes


def test_links_are_valid(territory):
    demo.create_demo_data(50, seed=7)
    demo_organisations = set(
        db.session.scalars(select(Organisation.id).where(Organisation.is_demo))
    )
    theme_ids = set(db.session.scalars(select(Theme.id)))
    public_ids = set(db.session.scalars(select(Public.id)))

    for initiative in db.session.scalars(select(Initiative).where(Initiative.is_demo)):
        roles = Counter(link.role for link in initiative.organisation_links)
        assert roles[OrganisationRole.PORTEUR] == 1
        linked = [link.organisation_id for link in initiative.organisation_links]
        assert len(linked) == len(set(linked))
        assert set(linked) <= demo_organisations
        assert 1 <= len(initiative.places) <= 3
        assert {place.commune.departement_code for place in initiative.places} == {
            departement.code for departement in initiative.departements
        }
        assert 1 <= len(initiative.themes) <= 3
        assert {theme.id for theme in initiative.themes} <= theme_ids
        assert 1 <= len(initiative.publics) <= 2
        assert {public.id for public in initiative.publics} <= public_ids
    partner_roles = db.session.scalars(
        select(InitiativeOrganisation.role).where(
            InitiativeOrganisation.role != OrganisationRole.PORTEUR
        )
    ).all()
    assert partner_roles


def test_new_entries_after_demo_data_get_fresh_ids(territory):
    demo.create_demo_data(20, seed=3)
    organisation = make_organisation(slug="apres-la-demo")
    initiative = make_initiative(
        slug="initiative-apres-la-demo", commune="13055", lead=organisation
    )
    db.session.commit()

    assert initiative.id > db.session.scalar(
        select(func.max(Initiative.id)).where(Initiative.is_demo)
    )
    assert initiative.places[0].id > 0


def test_same_seed_gives_same_data(territory):
    first = demo.create_demo_data(10, seed=3)
    titles = db.session.scalars(
        select(Initiative.title).where(Initiative.is_demo).order_by(Initiative.id)
    ).all()
    demo.remove_demo_data()
    second = demo.create_demo_data(10, seed=3)
    again = db.session.scalars(
        select(Initiative.title).where(Initiative.is_demo).order_by(Initiative.id)
    ).all()

    assert first == second
    assert titles == again


def test_remove_deletes_demo_rows_only(territory):
    real_organisation = make_organisation(slug="vraie-association", name="Vraie association")
    partner = make_organisation(slug="vrai-partenaire", name="Vrai partenaire")
    real = make_initiative(
        slug="vraie-initiative", commune="13055", lead=real_organisation, partners=(partner,)
    )
    real.themes.append(db.session.scalars(select(Theme)).first())
    db.session.commit()
    before = _table_counts()

    demo.create_demo_data(30, seed=5)
    assert _table_counts()["initiative"] == before["initiative"] + 30
    removed = demo.remove_demo_data()

    assert removed["initiatives"] == 30
    assert removed["organisations"] == 3
    assert _count(Initiative, Initiative.is_demo) == 0
    assert _count(Organisation, Organisation.is_demo) == 0
    assert _table_counts() == before
    db.session.expire_all()
    kept = db.session.scalars(select(Initiative).where(Initiative.slug == "vraie-initiative")).one()
    assert [link.organisation.slug for link in kept.organisation_links] == [
        "vraie-association",
        "vrai-partenaire",
    ]
    assert len(kept.places) == 1 and len(kept.themes) == 1


def test_remove_without_demo_data_changes_nothing(territory):
    before = _table_counts()
    assert demo.remove_demo_data() == {"initiatives": 0, "organisations": 0, "places": 0}
    assert _table_counts() == before


def test_without_gazetteer_a_clear_error(empty_app):
    with empty_app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        with pytest.raises(demo.DemoDataError, match="flask --app directory setup"):
            demo.create_demo_data(5, seed=1)
        assert _count(Organisation) == 0
        result = empty_app.test_cli_runner().invoke(args=["demo-data", "--count", "5"])

    assert result.exit_code == 1
    assert "Chargez d'abord le référentiel des communes" in result.output
    assert "Traceback" not in result.output


def test_cli_creates_and_removes(territory, runner):
    result = runner.invoke(args=["demo-data", "--count", "20", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "initiatives : 20, organisations : 2" in result.output
    assert _count(Initiative, Initiative.is_demo) == 20

    result = runner.invoke(args=["demo-data", "--remove"])
    assert result.exit_code == 0, result.output
    assert "initiatives : 20, organisations : 2" in result.output
    db.session.expire_all()
    assert _count(Initiative, Initiative.is_demo) == 0


def test_cli_keeps_the_search_index_in_step(territory, runner):
    """Bulk inserts bypass the outbox, so the command rebuilds the index itself."""
    from directory.services import search as service

    def demo_titles_found() -> set[str]:
        found = service.search(service.SearchRequest.from_args({"q": title}))
        return {hit.entry.title for hit in found.initiatives.hits}

    result = runner.invoke(args=["demo-data", "--count", "5", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "Index reconstruit" in result.output
    title = db.session.scalar(
        select(Initiative.title).where(Initiative.is_demo, Initiative.status == "published")
    )
    assert title in demo_titles_found()

    result = runner.invoke(args=["demo-data", "--remove"])
    assert result.exit_code == 0, result.output
    assert title not in demo_titles_found()


# --- The text generator ------------------------------------------------------------------------
def _tokens(text: str) -> list[str]:
    return WORD.findall(text.lower())


def _corpus(size: int, seed: int = 1) -> list[str]:
    generator = FrenchTextGenerator(random.Random(seed))
    tokens: list[str] = []
    while len(tokens) < size:
        tokens += _tokens(generator.description("L'association Horizon"))
    return tokens[:size]


def test_most_frequent_words_are_french_function_words():
    most_common = [word for word, _ in Counter(_corpus(10_000)).most_common(10)]
    assert set(most_common) <= FUNCTION_WORDS, most_common
    assert {"de", "la", "et"} <= set(most_common)


def test_type_token_ratio_is_realistic():
    corpus = _corpus(10_000)
    assert 0.10 <= len(set(corpus)) / len(corpus) <= 0.35
    if REFERENCE_TEXT.exists():
        reference = _tokens(REFERENCE_TEXT.read_text())[:600]
        generated = corpus[:600]
        reference_ratio = len(set(reference)) / len(reference)
        assert abs(len(set(generated)) / len(generated) - reference_ratio) < 0.15


def test_summary_and_description_bounds_hold_for_many_seeds():
    for seed in range(30):
        generator = FrenchTextGenerator(random.Random(seed))
        name = "Centre communal d'action sociale de Saint-Rémy-de-Provence"
        assert len(generator.summary(name)) <= 300
        assert 80 <= len(generator.description(name).split()) <= 400


def test_french_joins_and_titles():
    assert join_french(["de", "le", "quartier"]) == "du quartier"
    assert join_french(["à", "les", "aidants"]) == "aux aidants"
    assert join_french(["de", "insertion", ",", "et", "la", "école", "."]) == (
        "d'insertion, et l'école."
    )
    assert join_french(["situation", "de", "handicap"]) == "situation de handicap"
    assert join_french(["de", "habitants"]) == "d'habitants"
    assert of_place("Arles") == "d'Arles"
    assert of_place("Le Pontet") == "du Pontet"
    assert of_place("Carpentras") == "de Carpentras"
    title = FrenchTextGenerator(random.Random(2)).initiative_title("Carpentras")
    assert title[0].isupper() and len(title) <= 200
