"""Public catalogue pages: what a visitor sees, status codes, escaping and bad input."""

from __future__ import annotations

import html
import re
from datetime import time

import pytest
from factories import (
    make_event,
    make_initiative,
    make_organisation,
    make_theme,
    unique,
)
from markupsafe import escape

from directory.extensions import db
from directory.models import (
    ProgrammeItem,
    ProgrammeKind,
    ProgrammeSpeaker,
    Speaker,
    SpeakerPart,
    Stage,
    Status,
    Workshop,
)

SEED_EVENT = "journee-regionale-2011"
SEED_EVENT_TITLE = "L'innovation comme outil des politiques de cohésion sociale"


def _text(response) -> str:
    """The page as text, entities decoded and no-break spaces as spaces, as a person reads it."""
    text = html.unescape(response.get_data(as_text=True))
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def _build(app, builder):
    with app.app_context():
        result = builder()
        db.session.commit()
        return result


# --- The seeded catalogue (the 2011 Journée régionale) ---------------------------------------


def test_home_presents_the_service_figures_and_the_seed(client):
    response = client.get("/")
    page = _text(response)

    assert response.status_code == 200
    assert "Annuaire de l’innovation sociale" in page
    assert "ateliers territoriaux de la cohésion sociale" in page
    assert 'role="search"' in page and 'name="q"' in page
    assert "Chiffres clés" in page
    assert "initiatives publiées" in page
    assert SEED_EVENT_TITLE in page
    assert "Initiatives récentes" in page


def test_initiative_list_shows_seeded_initiatives(client):
    response = client.get("/initiatives")
    page = _text(response)

    assert response.status_code == 200
    assert re.search(r"<h2[^>]*>\d+\s+initiatives?</h2>", page)
    assert "Réseau d'initiatives de solidarité et d'entraide" in page
    assert 'aria-live="polite"' in page
    assert '<label class="fr-label" for="filtre-theme">Thème</label>' in page


def test_seeded_event_page_has_its_programme(client):
    response = client.get(f"/evenements/{SEED_EVENT}")
    page = _text(response)

    assert response.status_code == 200
    assert f"<h1>{SEED_EVENT_TITLE}</h1>" in page
    assert "Le 15 juin 2011, de 9 h à 17 h" in page
    assert "Archives et Bibliothèque Départementales Gaston Deferre" in page
    assert "Voisins & Citoyens en Méditerranée" in page
    assert "La 27e Région" in page
    assert "DesignTheFutureNow" in page
    assert "Jacques Donzelot" in page
    assert "Comment évaluer et valoriser les innovations ?" in page
    assert "Programme" in page


def test_seeded_event_is_listed(client):
    response = client.get("/evenements")
    assert response.status_code == 200
    assert SEED_EVENT_TITLE in _text(response)


@pytest.mark.parametrize(
    ("slug", "name"),
    [
        ("voisins-citoyens-en-mediterranee", "Voisins & Citoyens en Méditerranée"),
        ("la-27e-region", "La 27e Région"),
        ("designthefuturenow", "DesignTheFutureNow"),
    ],
)
def test_seeded_organisation_pages(client, slug, name):
    response = client.get(f"/organisations/{slug}")
    page = _text(response)

    assert response.status_code == 200
    assert name in page
    assert "Ses initiatives" in page
    assert SEED_EVENT_TITLE in page  # each was a partner of the journée


def test_seeded_organisations_are_listed(client):
    page = _text(client.get("/organisations"))
    assert "Voisins & Citoyens en Méditerranée" in page
    assert "La 27e Région" in page


def test_seeded_initiative_sheet(client):
    response = client.get("/initiatives/reseau-initiatives-solidarite-entraide-mediterranee")
    page = _text(response)

    assert response.status_code == 200
    assert "<h1>Réseau d'initiatives de solidarité et d'entraide" in page
    assert "Voisins & Citoyens en Méditerranée" in page
    assert "Porteur" in page
    assert "Comment est-elle née ?" in page and "Non renseigné." in page
    assert "Dernière mise à jour le" in page
    assert "Source : Programme de la journée régionale du 15 juin 2011" in page
    assert 'href="/territoires/13"' in page  # its territories link to their département page


def test_territory_page(client):
    response = client.get("/territoires/13")
    page = _text(response)

    assert response.status_code == 200
    assert "Bouches-du-Rhône" in page
    assert "Provence-Alpes-Côte d'Azur" in page
    assert "Chiffres clés" in page
    assert "Accélérateur de développement hyperlocal" in page


def test_languedoc_roussillon_departement_shows_its_grouping(client):
    page = _text(client.get("/territoires/34"))
    assert "Hérault" in page and "Languedoc-Roussillon" in page and "Occitanie" in page


# --- Our own data --------------------------------------------------------------------------


def test_initiative_sheet_shows_every_part(app, client):
    def build():
        lead = make_organisation(name="Association porteuse")
        funder = make_organisation(name="Fondation financeuse")
        theme = make_theme(name="Habitat partagé")
        initiative = make_initiative(
            title="Colocations solidaires",
            summary="Des colocations entre générations.",
            description="Premier paragraphe.\n\nSecond paragraphe.",
            genesis="Née d'un constat de voisins.",
            stage=Stage.EXPERIMENTATION,
            start_year=2009,
            end_year=2012,
            website="https://colocations.example.org",
            contact_email="contact@colocations.example.org",
            commune="13055",
            lead=lead,
            funders=(funder,),
            themes=[theme],
        )
        event = make_event(title="Atelier de Nîmes")
        event.initiatives.append(initiative)
        return initiative.slug, lead.slug

    slug, lead_slug = _build(app, build)
    page = _text(client.get(f"/initiatives/{slug}"))

    assert "<h1>Colocations solidaires</h1>" in page
    assert "Des colocations entre générations." in page
    assert "Expérimentation" in page and "2009–2012" in page
    assert "<p>Premier paragraphe.</p>" in page and "<p>Second paragraphe.</p>" in page
    assert "Née d'un constat de voisins." in page
    # The other three questions have no content yet.
    assert page.count("Non renseigné.") == 3
    assert f'href="/organisations/{lead_slug}"' in page
    assert "Porteur" in page and "Financeur" in page and "Fondation financeuse" in page
    assert "Marseille" in page and "Bouches-du-Rhône (13)" in page
    assert "Habitat partagé" in page
    assert "https://colocations.example.org" in page
    assert "contact@colocations.example.org" in page
    assert "Atelier de Nîmes" in page
    assert 'aria-label="vous êtes ici :"' in page


def test_list_filters_by_theme_and_shows_cards(app, client):
    def build():
        theme = make_theme(name="Jardins partagés")
        lead = make_organisation(name="Les Jardiniers du quartier")
        make_initiative(
            title="Jardin des Aygalades",
            summary="Un jardin ouvert à tous.",
            themes=[theme],
            lead=lead,
            commune="13055",
            stage=Stage.DEPLOIEMENT,
        )
        make_initiative(title="Hors thème")
        return theme.slug

    theme_slug = _build(app, build)
    page = _text(client.get(f"/initiatives?theme={theme_slug}"))

    assert re.search(r"<h2[^>]*>1\s+initiative</h2>", page)
    assert "Jardin des Aygalades" in page and "Un jardin ouvert à tous." in page
    assert "Porté par Les Jardiniers du quartier" in page
    assert "Marseille (13)" in page and "Déploiement" in page and "Jardins partagés" in page
    assert "Hors thème" not in page
    assert f'<option value="{theme_slug}" selected>' in page


def test_list_filters_by_departement(app, client):
    def build():
        make_initiative(title="Initiative héraultaise", commune="34172")
        make_initiative(title="Initiative varoise", commune="83137")

    _build(app, build)
    page = _text(client.get("/initiatives?departement=34"))

    assert "Initiative héraultaise" in page and "Initiative varoise" not in page


def test_empty_result_has_an_empty_state(client):
    page = _text(client.get("/initiatives?q=zzzz-introuvable-zzzz"))
    assert "Aucune initiative ne correspond à ces critères." in page
    assert re.search(r"<h2[^>]*>0\s+initiative</h2>", page)


def test_pagination_links_keep_the_filters(app, client):
    prefix = unique("pagination")

    def build():
        for number in range(25):
            make_initiative(title=f"{prefix} {number:02d}")

    _build(app, build)
    first = _text(client.get(f"/initiatives?q={prefix}"))
    second = _text(client.get(f"/initiatives?q={prefix}&page=2"))

    assert "25 initiatives" in first
    assert f"{prefix} 19" in first and f"{prefix} 20" not in first
    assert f"{prefix} 20" in second and f"{prefix} 24" in second
    assert "Page suivante" in first
    assert re.search(rf'href="/initiatives\?q={prefix}&amp;page=2"', first) or re.search(
        rf'href="/initiatives\?q={prefix}&page=2"', first
    )


def test_demo_entries_carry_a_badge(app, client):
    slug = _build(app, lambda: make_initiative(title="Exemple généré", is_demo=True).slug)

    assert "Donnée de démonstration" in _text(client.get(f"/initiatives/{slug}"))
    assert "Donnée de démonstration" in _text(client.get("/initiatives?q=Exemple+généré"))


def test_organisation_page_lists_initiatives_with_roles(app, client):
    def build():
        organisation = make_organisation(
            name="Collectif des voisins", description="Un collectif de quartier."
        )
        make_initiative(title="Repair café", lead=organisation)
        make_initiative(title="Épicerie solidaire", partners=(organisation,))
        make_initiative(title="Projet caché", lead=organisation, status=Status.DRAFT)
        return organisation.slug

    slug = _build(app, build)
    page = _text(client.get(f"/organisations/{slug}"))

    assert "<h1>Collectif des voisins</h1>" in page
    assert "Un collectif de quartier." in page and "Association" in page
    assert "Repair café" in page and "Épicerie solidaire" in page
    assert "Porteur" in page and "Partenaire" in page
    assert "Projet caché" not in page


def test_organisation_list_filters_by_kind(client):
    page = _text(client.get("/organisations?type=etat"))
    assert "Direction régionale de la Jeunesse" in page
    assert "Voisins & Citoyens en Méditerranée" not in page


def test_event_programme_as_a_timeline_with_speakers_and_workshops(app, client):
    def build():
        organisation = make_organisation(name="Maison des associations")
        event = make_event(title="Atelier territorial de test", partners=(organisation,))
        item = ProgrammeItem(
            position=1,
            section="Matinée",
            starts_at=time(10, 30),
            kind=ProgrammeKind.TABLE_RONDE,
            title="Tables rondes",
            questions="Première question ?\nSeconde question ?",
        )
        item.speaker_links.append(
            ProgrammeSpeaker(
                speaker=Speaker(name="Anne Durand", role="Directrice", organisation=organisation),
                part=SpeakerPart.MODERATEUR,
            )
        )
        event.programme.append(item)
        event.workshops.append(Workshop(title="Sous-groupe 1", restitution="Ce qui est ressorti."))
        return event.slug

    slug = _build(app, build)
    page = _text(client.get(f"/evenements/{slug}"))

    assert "Matinée" in page and "10 h 30" in page and "Table ronde" in page
    assert "Animation et modération" in page and "Anne Durand" in page
    assert "Directrice (" in page and "Maison des associations" in page
    assert "Première question ?" in page and "Seconde question ?" in page
    assert "Sous-groupe 1" in page and "Ce qui est ressorti." in page
    assert "En partenariat avec" in page


# --- Not found, unpublished, escaping, bad input ---------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/initiatives/aucune-initiative",
        "/organisations/aucune-organisation",
        "/evenements/aucun-evenement",
        "/territoires/99",
        "/territoires/zz",
        "/territoires/1%003",
        "/initiatives/a%00b",
        "/organisations/a%00b",
        "/evenements/a%00b",
        "/initiatives/" + "x" * 1000,
        "/territoires/%C3%A9",
        "/territoires/" + "9" * 300,
    ],
)
def test_unknown_entries_give_404(client, url):
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("status", [Status.DRAFT, Status.PROPOSED, Status.ARCHIVED])
def test_unpublished_entries_give_404_and_are_not_listed(app, client, status):
    def build():
        initiative = make_initiative(title="Fiche non publiée", status=status)
        organisation = make_organisation(name="Organisation non publiée", status=status)
        event = make_event(title="Événement non publié", status=status)
        return initiative.slug, organisation.slug, event.slug

    initiative, organisation, event = _build(app, build)

    assert client.get(f"/initiatives/{initiative}").status_code == 404
    assert client.get(f"/organisations/{organisation}").status_code == 404
    assert client.get(f"/evenements/{event}").status_code == 404
    assert "Fiche non publiée" not in _text(client.get("/initiatives?q=Fiche+non"))
    assert "Organisation non publiée" not in _text(client.get("/organisations"))
    assert "Événement non publié" not in _text(client.get("/evenements"))


def test_user_text_is_escaped(app, client):
    script = "<script>alert(1)</script>"
    slug = _build(app, lambda: make_initiative(title=script, summary=script).slug)

    for url in (f"/initiatives/{slug}", "/initiatives?q=alert", "/"):
        body = client.get(url).get_data(as_text=True)
        assert script not in body
        assert str(escape(script)) in body


def test_javascript_website_is_not_a_link(app, client):
    slug = _build(app, lambda: make_initiative(website="javascript:alert(1)").slug)
    body = client.get(f"/initiatives/{slug}").get_data(as_text=True)
    assert 'href="javascript:' not in body


@pytest.mark.parametrize(
    "query",
    [
        "page=abc",
        "page=-1",
        "page=0",
        "page=99999",
        "page=" + "9" * 50,
        "departement=zz",
        "tri=nimportequoi",
        "stage=inconnue&region=nulle-part&annee=deux-mille",
        "theme=%00&public=%FF",
        "organisation=%00&evenement=a%00b&departement=1%003&type=%00",
        "q=" + "a" * 5000,
    ],
)
def test_bad_query_parameters_never_fail(client, query):
    for path in ("/initiatives", "/organisations", "/territoires/13"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 200, (path, query)


def test_bad_filters_are_announced(client):
    page = _text(client.get("/initiatives?departement=zz&stage=inconnue"))
    assert "Code de département invalide ignoré." in page
    assert "Étape inconnue ignorée." in page
    page = _text(client.get("/organisations?departement=zz"))
    assert "Département inconnu ignoré." in page


def test_page_past_the_end_shows_the_last_page(app, client):
    prefix = unique("fin")
    _build(app, lambda: [make_initiative(title=f"{prefix} {n}") for n in range(3)])
    page = _text(client.get(f"/initiatives?q={prefix}&page=99999"))
    assert f"{prefix} 0" in page and "3 initiatives" in page


@pytest.mark.parametrize("sort", ["titre", "recent", "annee"])
def test_sorts_render(client, sort):
    response = client.get(f"/initiatives?tri={sort}")
    assert response.status_code == 200
    assert f'<option value="{sort}" selected>' in _text(response)


def test_organisation_page_with_many_initiatives_links_to_the_filtered_list(app, client):
    def build():
        organisation = make_organisation(name="Grand réseau")
        for number in range(51):
            make_initiative(title=f"Antenne {number:02d}", lead=organisation)
        return organisation.slug

    slug = _build(app, build)
    page = _text(client.get(f"/organisations/{slug}"))

    assert "Ses initiatives (51)" in page
    assert "Antenne 49" in page and "Antenne 50" not in page
    assert f'href="/initiatives?organisation={slug}"' in page
    listed = _text(client.get(f"/initiatives?organisation={slug}"))
    assert "51 initiatives" in listed


def test_sheet_organisation_and_territory_pages_show_a_small_map_of_places(app, client):
    def build():
        organisation = make_organisation(name="Association marseillaise")
        return make_initiative(commune="13055", lead=organisation).slug, organisation.slug

    initiative, organisation = _build(app, build)

    for url in (f"/initiatives/{initiative}", f"/organisations/{organisation}", "/territoires/13"):
        body = client.get(url).get_data(as_text=True)
        assert "data-mini-map=" in body, url
        assert "<script>" not in body  # scripts come from static files only
