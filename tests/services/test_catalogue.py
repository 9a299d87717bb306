"""The seed catalogue: facts of the 2011 Journée régionale, idempotent and validated loading."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from flask_migrate import upgrade

from directory.config import ROOT
from directory.extensions import db
from directory.models import (
    Commune,
    Event,
    EventKind,
    Initiative,
    Organisation,
    OrganisationKind,
    ProgrammeKind,
    Public,
    Speaker,
    SpeakerPart,
    Status,
    Theme,
)
from directory.services import catalogue, gazetteer
from directory.services.catalogue import SeedError, load_seed
from directory.territories import LANGUEDOC_ROUSSILLON, PACA

SOURCE = "Programme de la journée régionale du 15 juin 2011"
EVENT_SLUG = "journee-regionale-2011"
SEEDED_TABLES = (
    "theme",
    "public",
    "organisation",
    "initiative",
    "place",
    "event",
    "programme_item",
    "speaker",
    "workshop",
)


def _event() -> Event:
    event = db.session.scalar(sa.select(Event).where(Event.slug == EVENT_SLUG))
    assert event is not None
    return event


def _initiative(slug: str) -> Initiative:
    initiative = db.session.scalar(sa.select(Initiative).where(Initiative.slug == slug))
    assert initiative is not None, slug
    return initiative


def _row_counts() -> dict[str, int]:
    return {
        table: db.session.scalar(sa.select(sa.func.count()).select_from(sa.table(table)))
        for table in SEEDED_TABLES
    }


# -- the facts -----------------------------------------------------------------------------


def test_event_is_the_journee_regionale_of_15_june_2011(app_ctx):
    event = _event()
    assert event.kind == EventKind.JOURNEE_REGIONALE
    assert event.title == "L'innovation comme outil des politiques de cohésion sociale"
    assert event.cycle == "Les ateliers territoriaux de la cohésion sociale"
    assert event.description.startswith("Espace de réflexion et de mise en débat")
    assert event.date.isoformat() == "2011-06-15"
    assert (event.starts_at.isoformat("minutes"), event.ends_at.isoformat("minutes")) == (
        "09:00",
        "17:00",
    )
    assert event.venue == "Archives et Bibliothèque Départementales Gaston Deferre"
    assert event.address == "18-20 rue Mirès 13003 Marseille"
    assert event.commune_code == "13203"
    assert event.commune.name.startswith("Marseille")
    assert event.status == Status.PUBLISHED
    assert event.source == SOURCE


def test_programme_has_every_time_kind_and_section(app_ctx):
    programme = _event().programme
    assert [(item.starts_at.isoformat("minutes"), item.kind) for item in programme] == [
        ("09:00", ProgrammeKind.ACCUEIL),
        ("09:30", ProgrammeKind.ALLOCUTION),
        ("09:30", ProgrammeKind.ALLOCUTION),
        ("10:00", ProgrammeKind.CONFERENCE),
        ("10:30", ProgrammeKind.TABLE_RONDE),
        ("12:00", ProgrammeKind.ECHANGES),
        ("12:30", ProgrammeKind.PAUSE),
        ("13:30", ProgrammeKind.ATELIER),
        ("15:00", ProgrammeKind.PAUSE),
        ("15:15", ProgrammeKind.RESTITUTION),
        ("15:45", ProgrammeKind.ECHANGES),
        ("16:15", ProgrammeKind.SYNTHESE),
        ("16:30", ProgrammeKind.PRESENTATION),
        ("17:00", ProgrammeKind.CLOTURE),
    ]
    sections = [item.section for item in programme]
    assert sections[:7] == ["Programme matinée – Appels d'air"] * 7
    assert sections[7:] == ["Programme après-midi – Workshops"] * 7
    buffet = programme[6]
    assert buffet.title == "Buffet sur place"
    assert buffet.ends_at.isoformat("minutes") == "13:30"
    assert buffet.description == "1 heure de pause déjeuner"
    # Only the buffet's end is given by the programme.
    assert [item.ends_at for item in programme if item is not buffet] == [None] * 13


def test_speakers_keep_their_roles_and_organisations(app_ctx):
    speakers = {
        item.title: [
            (
                link.speaker.name,
                link.speaker.role,
                link.part,
                link.speaker.organisation.slug if link.speaker.organisation else None,
            )
            for link in item.speaker_links
        ]
        for item in _event().programme
        if item.speaker_links
    }
    assert speakers == {
        "Allocution d'accueil": [
            (
                "Jacqueline Ursch",
                "Directrice des Archives Départementales des Bouches du Rhône",
                SpeakerPart.INTERVENANT,
                "archives-bibliotheque-departementales-gaston-defferre",
            )
        ],
        "Ouverture de la journée de travail": [
            (
                "Jean Chappellet",
                "Directeur Régional de la Jeunesse, des sports et de la Cohésion Sociale",
                SpeakerPart.INTERVENANT,
                "drjscs-paca",
            ),
            (
                "Michel Thierry",
                "Président de l'association Voisins & Citoyens en Méditerranée",
                SpeakerPart.INTERVENANT,
                "voisins-citoyens-en-mediterranee",
            ),
        ],
        "Réflexion sur les nouvelles politiques publiques de la cohésion sociale": [
            (
                "Jacques Donzelot",
                "historien du social et sociologue de l'urbain",
                SpeakerPart.INTERVENANT,
                None,
            ),
        ],
        "Tables rondes autour de projets innovants": [
            (
                "Stéphane Vincent",
                "Directeur du projet 27e Région",
                SpeakerPart.MODERATEUR,
                "la-27e-region",
            ),
        ],
        "Synthèse de la journée": [
            (
                "Stéphane Vincent",
                "Directeur du projet 27e Région",
                SpeakerPart.INTERVENANT,
                "la-27e-region",
            ),
        ],
    }
    # One person, one speaker row, even when they speak twice.
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Speaker)
            .where(Speaker.name == "Stéphane Vincent")
        )
        == 1
    )


def test_round_table_asks_the_four_questions(app_ctx):
    round_table = next(i for i in _event().programme if i.kind == ProgrammeKind.TABLE_RONDE)
    assert round_table.question_list == [
        "Comment naissent et se développent les innovations ?",
        "Comment évaluer et valoriser les innovations ?",
        "Comment les innovations peuvent-elles transformer les politiques publiques ?",
        "Comment les politiques publiques peuvent-elles soutenir les innovations ?",
    ]


def test_four_workshops_without_invented_titles(app_ctx):
    workshops = _event().workshops
    assert [w.title for w in workshops] == [f"Sous-groupe {n}" for n in range(1, 5)]
    assert {(w.description, w.restitution) for w in workshops} == {(None, None)}


def test_event_organiser_partners_and_host(app_ctx):
    links = [(link.organisation.slug, link.role.value) for link in _event().organisation_links]
    assert links == [
        ("drjscs-paca", "organisateur"),
        ("conseil-general-bouches-du-rhone", "partenaire"),
        ("voisins-citoyens-en-mediterranee", "partenaire"),
        ("la-27e-region", "partenaire"),
        ("designthefuturenow", "partenaire"),
        ("archives-bibliotheque-departementales-gaston-defferre", "lieu"),
    ]
    # The programme names no project presented at the round tables.
    assert _event().initiatives == []


def test_organisations_with_kinds_websites_and_nothing_invented(app_ctx):
    organisations = {o.slug: o for o in db.session.scalars(sa.select(Organisation))}
    assert {slug: (o.kind, o.website) for slug, o in organisations.items()} == {
        "drjscs-paca": (OrganisationKind.ETAT, None),
        "conseil-general-bouches-du-rhone": (OrganisationKind.COLLECTIVITE, None),
        "archives-bibliotheque-departementales-gaston-defferre": (
            OrganisationKind.COLLECTIVITE,
            None,
        ),
        "voisins-citoyens-en-mediterranee": (
            OrganisationKind.ASSOCIATION,
            "https://vcm.1901.org",
        ),
        "la-27e-region": (OrganisationKind.AUTRE, "https://la27eregion.fr"),
        "designthefuturenow": (OrganisationKind.ASSOCIATION, "https://designthefuturenow.org"),
    }
    assert {(o.email, o.phone) for o in organisations.values()} == {(None, None)}
    assert {o.status for o in organisations.values()} == {Status.PUBLISHED}
    vcm = organisations["voisins-citoyens-en-mediterranee"]
    assert "- identifier les questions éthiques révélées par leurs expériences," in (
        vcm.description
    )
    assert [d.code for d in vcm.departements] == sorted(PACA + LANGUEDOC_ROUSSILLON)
    assert organisations["la-27e-region"].tagline == (
        "Laboratoire des nouvelles politiques publiques à l'âge numérique"
    )
    assert organisations["designthefuturenow"].tagline == "Créativité et recommandation sociale"
    archives = organisations["archives-bibliotheque-departementales-gaston-defferre"]
    assert archives.commune_code == "13203"
    partners = {slug for slug, o in organisations.items() if o.is_event_partner}
    assert partners == {
        "conseil-general-bouches-du-rhone",
        "voisins-citoyens-en-mediterranee",
        "la-27e-region",
        "designthefuturenow",
    }


def test_initiatives_linked_to_organisations_places_and_themes(app_ctx):
    initiatives = {i.slug: i for i in db.session.scalars(sa.select(Initiative))}
    assert {
        slug: [(link.organisation.slug, link.role.value) for link in i.organisation_links]
        for slug, i in initiatives.items()
    } == {
        "reseau-initiatives-solidarite-entraide-mediterranee": [
            ("voisins-citoyens-en-mediterranee", "porteur")
        ],
        "accelerateur-developpement-hyperlocal-hypercentre-marseille": [
            ("designthefuturenow", "porteur")
        ],
        "ressourcerie-methodologies-creatives": [("designthefuturenow", "porteur")],
        "lift-experience": [("designthefuturenow", "partenaire")],
        "carrefour-des-possibles": [("designthefuturenow", "partenaire")],
        "opencrea": [("designthefuturenow", "partenaire")],
        "quel-lycee-en-2020": [("la-27e-region", "porteur")],
    }
    for initiative in initiatives.values():
        assert initiative.status == Status.PUBLISHED
        assert initiative.source == SOURCE
        assert initiative.summary and len(initiative.summary) <= 300
        # Nothing the programme does not say.
        assert (
            initiative.start_year,
            initiative.stage,
            initiative.contact_email,
            initiative.genesis,
            initiative.public_support,
        ) == (None, None, None, None, None)
        assert initiative.themes

    network = initiatives["reseau-initiatives-solidarite-entraide-mediterranee"]
    assert network.places == []
    assert [d.code for d in network.departements] == sorted(PACA + LANGUEDOC_ROUSSILLON)
    assert [t.slug for t in network.themes] == [
        "lutte-contre-la-pauvrete-et-la-precarite",
        "entraide-et-solidarite",
    ]
    accelerator = initiatives["accelerateur-developpement-hyperlocal-hypercentre-marseille"]
    assert [(p.commune_code, p.label) for p in accelerator.places] == [
        ("13055", "Hypercentre de Marseille")
    ]
    assert [p.slug for p in accelerator.publics] == [
        "habitants",
        "initiatives-collectives-et-structures-locales",
    ]


def test_taxonomies_are_ordered_as_in_the_files(app_ctx):
    themes = db.session.scalars(sa.select(Theme).order_by(Theme.position)).all()
    assert themes[0].name == "Lutte contre la pauvreté et la précarité"
    assert "Éducation" in [t.name for t in themes]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Public)) == 4


# -- idempotence ---------------------------------------------------------------------------


def test_loading_again_creates_nothing(app_ctx):
    before = _row_counts()
    assert load_seed() == dict.fromkeys(catalogue.KINDS, 0)
    assert _row_counts() == before


def test_a_curator_edit_survives_a_reload(app_ctx):
    initiative = _initiative("opencrea")
    initiative.title = "OpenCréa (titre revu)"
    initiative.summary = None
    _event().title = "Titre revu"
    db.session.commit()

    load_seed()
    db.session.expire_all()
    assert _initiative("opencrea").title == "OpenCréa (titre revu)"
    assert _initiative("opencrea").summary is None
    assert _event().title == "Titre revu"


def test_setup_on_an_empty_database_then_reload(empty_app):
    from directory.services import setup

    with empty_app.app_context():
        setup.run(echo=lambda _message: None)
        first = _row_counts()
        assert first["initiative"] == 7
        assert first["event"] == 1
        assert first["programme_item"] == 14
        assert load_seed() == dict.fromkeys(catalogue.KINDS, 0)
        assert _row_counts() == first


# -- validation on copies of the seed ------------------------------------------------------


@pytest.fixture
def territories_only(empty_app) -> Iterator[None]:
    """An empty catalogue on a migrated database with the gazetteer loaded."""
    with empty_app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        gazetteer.load_gazetteer()
        yield


@pytest.fixture
def seed_copy(tmp_path) -> Callable[..., Path]:
    """Copy the seed files, applying ``edit(data)`` to the entries of one file."""

    def make(filename: str | None = None, edit: Callable[[list[Any]], None] | None = None):
        directory = tmp_path / "catalogue"
        shutil.copytree(catalogue.SEED_DIRECTORY, directory)
        if filename and edit:
            path = directory / filename
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            edit(data)
            path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        return directory

    return make


def _set_event_commune(data: list[Any]) -> None:
    data[0]["commune"] = "99999"


def test_a_bad_commune_code_names_the_entry_and_writes_nothing(territories_only, seed_copy):
    broken = seed_copy("events.yaml", _set_event_commune)
    with pytest.raises(SeedError) as error:
        load_seed(broken)
    message = str(error.value)
    assert "events.yaml" in message
    assert EVENT_SLUG in message
    assert "99999" in message
    # Themes, organisations and initiatives come before the event: none of them stayed.
    assert set(_row_counts().values()) == {0}
    # The intact seed then loads in full.
    assert load_seed() == {
        "themes": 9,
        "publics": 4,
        "organisations": 6,
        "initiatives": 7,
        "events": 1,
    }


def _long_summary(data: list[Any]) -> None:
    data[3]["summary"] = "x" * 301


def _unknown_organisation(data: list[Any]) -> None:
    data[0]["organisations"][0]["organisation"] = "organisation-absente"


def _unknown_field(data: list[Any]) -> None:
    data[1]["websit"] = "https://example.org"


def _unquoted_time(data: list[Any]) -> None:
    data[0]["programme"][4]["starts_at"] = 630  # what YAML makes of an unquoted 10:30


def _unknown_speaker(data: list[Any]) -> None:
    data[0]["programme"][1]["speakers"] = ["inconnu"]


def _bare_website(data: list[Any]) -> None:
    data[3]["website"] = "vcm.1901.org"


@pytest.mark.parametrize(
    ("filename", "edit", "entry", "words"),
    [
        ("initiatives.yaml", _long_summary, "lift-experience", "301 caractères"),
        (
            "initiatives.yaml",
            _unknown_organisation,
            "reseau-initiatives-solidarite-entraide-mediterranee",
            "organisation-absente",
        ),
        ("organisations.yaml", _unknown_field, "conseil-general-bouches-du-rhone", "websit"),
        ("events.yaml", _unquoted_time, EVENT_SLUG, "entre guillemets"),
        ("events.yaml", _unknown_speaker, EVENT_SLUG, "inconnu"),
        ("organisations.yaml", _bare_website, "voisins-citoyens-en-mediterranee", "https://"),
    ],
)
def test_invalid_entries_are_reported_clearly(
    territories_only, seed_copy, filename, edit, entry, words
):
    with pytest.raises(SeedError) as error:
        load_seed(seed_copy(filename, edit))
    assert error.value.filename == filename
    assert error.value.entry.startswith(entry)
    assert words in str(error.value)
    assert set(_row_counts().values()) == {0}


def test_a_missing_slug_is_made_from_the_name(territories_only, tmp_path):
    (tmp_path / "themes.yaml").write_text(
        "- name: Tiers-lieux et économie sociale\n", encoding="utf-8"
    )
    assert load_seed(tmp_path)["themes"] == 1
    theme = db.session.scalar(sa.select(Theme))
    assert theme.slug == "tiers-lieux-et-economie-sociale"


def test_an_arrondissement_missing_from_the_gazetteer_falls_back_to_its_commune(
    territories_only,
):
    db.session.delete(db.session.get(Commune, "13203"))
    db.session.commit()
    load_seed()
    assert _event().commune_code == "13055"


def test_an_initiative_can_be_linked_to_a_programme_item(territories_only, seed_copy):
    def present(data: list[Any]) -> None:
        data[0]["initiatives"] = [{"initiative": "opencrea", "programme_item": 5}]

    load_seed(seed_copy("events.yaml", present))
    event = _event()
    assert [i.slug for i in event.initiatives] == ["opencrea"]
    item_id = db.session.scalar(sa.text("SELECT programme_item_id FROM event_initiative"))
    assert item_id == event.programme[4].id
    assert event.programme[4].kind == ProgrammeKind.TABLE_RONDE
