"""/proposer: a visitor suggests an initiative; it waits, private, for a curator."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from factories import make_user

from directory.extensions import db
from directory.models import Initiative, Revision, RevisionState, Role, Status

EMAIL = "proposante.secrete@example.org"


def _counts(app) -> tuple[int, int]:
    with app.app_context():
        initiatives = db.session.scalar(sa.select(sa.func.count()).select_from(Initiative))
        revisions = db.session.scalar(sa.select(sa.func.count()).select_from(Revision))
    return initiatives, revisions


def _valid(**overrides) -> dict:
    data = {
        "title": "Jardin partagé des Tilleuls",
        "summary": "Un jardin cultivé par les habitants du quartier, ouvert à tous.",
        "description": "Né en 2010 d’une idée de voisins.\n\nOuvert le samedi matin.",
        "commune": "Marseille",
        "themes": ["entraide-et-solidarite", "participation-citoyenne"],
        "website": "https://jardin.example.org",
        "proposer_name": "Camille Martin",
        "proposer_email": EMAIL,
        "consent": "y",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def _post(client, csrf_token, data: dict, **kwargs):
    return client.post("/proposer", data={**data, "csrf_token": csrf_token(client)}, **kwargs)


def test_form_page_is_public_and_accessible(client):
    response = client.get("/proposer")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<title>Proposer une initiative — " in html
    assert 'name="csrf_token"' in html
    assert 'for="proposer_email"' in html
    assert "/donnees-personnelles" in html
    assert 'value="entraide-et-solidarite"' in html  # a checkbox per theme
    # The honeypot is hidden from people and from assistive technologies.
    assert 'aria-hidden="true"' in html
    honeypot = html[html.index('name="telecopie"') - 120 : html.index('name="telecopie"') + 120]
    assert 'tabindex="-1"' in honeypot and 'autocomplete="off"' in honeypot


def test_site_links_to_the_form(client):
    for page in ("/", "/initiatives"):
        assert 'href="/proposer"' in client.get(page).get_data(as_text=True), page


def test_valid_proposal_waits_for_review_with_the_private_email(app, client, csrf_token):
    response = _post(client, csrf_token, _valid())
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/proposer/merci")
    thanks = client.get(response.headers["Location"])
    assert thanks.status_code == 200
    assert "sera publiée après vérification" in thanks.get_data(as_text=True)

    with app.app_context():
        initiative = db.session.scalars(
            sa.select(Initiative).where(Initiative.title == "Jardin partagé des Tilleuls")
        ).one()
        assert initiative.status == Status.PROPOSED
        assert [place.commune_code for place in initiative.places] == ["13055"]
        assert initiative.places[0].latitude is not None
        assert {theme.slug for theme in initiative.themes} == {
            "entraide-et-solidarite",
            "participation-citoyenne",
        }
        assert initiative.website == "https://jardin.example.org"
        revision = db.session.scalars(
            sa.select(Revision).where(
                Revision.entity_type == "initiative", Revision.entity_id == initiative.id
            )
        ).one()
        assert revision.state == RevisionState.PROPOSED
        assert revision.proposer_email == EMAIL
        assert revision.proposer_name == "Camille Martin"
        assert revision.author_id is None
        slug = initiative.slug

    # Not public: no sheet, not in the list, the search, the API, the feed or the map.
    anonymous = app.test_client()
    assert anonymous.get(f"/initiatives/{slug}").status_code == 404
    assert anonymous.get(f"/api/v1/initiatives/{slug}").status_code == 404
    for url in (
        "/initiatives",
        "/initiatives?q=Tilleuls",
        "/recherche?q=Tilleuls",
        "/recherche/suggestions?q=Tille",
        "/api/v1/initiatives?q=Tilleuls",
        "/flux/initiatives.atom",
        "/carte/points.geojson",
        "/api/v1/map/points",
        "/embed/liste",
    ):
        body = anonymous.get(url).get_data(as_text=True)
        assert slug not in body, url
        assert "cultivé par les habitants" not in body, url
        assert EMAIL not in body, url


def test_proposer_email_never_appears_on_public_outputs(app, client, csrf_token):
    assert _post(client, csrf_token, _valid()).status_code == 303
    anonymous = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments:
            continue
        body = anonymous.get(rule.rule).get_data(as_text=True)
        assert EMAIL not in body, rule.rule
        assert "Camille Martin" not in body, rule.rule
        checked += 1
    assert checked > 10


def test_filled_honeypot_thanks_the_robot_and_stores_nothing(app, client, csrf_token):
    before = _counts(app)
    response = _post(client, csrf_token, _valid(telecopie="0491000000"))
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/proposer/merci")
    assert _counts(app) == before


def test_missing_csrf_token_is_refused(app, client):
    before = _counts(app)
    response = client.post("/proposer", data=_valid())
    assert response.status_code == 400
    assert "Requête invalide" in response.get_data(as_text=True)
    assert _counts(app) == before


def test_submissions_are_limited_per_address(app, client, csrf_token):
    app.config["PROPOSAL_RATE_LIMIT"] = "2 per hour"
    for number in (1, 2):
        response = _post(client, csrf_token, _valid(title=f"Proposition {number}"))
        assert response.status_code == 303
    before = _counts(app)
    response = _post(client, csrf_token, _valid(title="Proposition 3"))
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert "Trop de demandes" in html
    assert _counts(app) == before
    # Another address still gets through; reading the form is never limited.
    other = app.test_client()
    response = _post(
        other, csrf_token, _valid(title="Proposition 4"), environ_base={"REMOTE_ADDR": "192.0.2.8"}
    )
    assert response.status_code == 303
    assert client.get("/proposer").status_code == 200


def test_ambiguous_commune_offers_a_choice(app, client, csrf_token):
    before = _counts(app)
    response = _post(client, csrf_token, _valid(commune="Villeneuve"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Plusieurs communes correspondent" in html
    assert 'name="commune_code" value="04242"' in html
    assert _counts(app) == before

    response = _post(client, csrf_token, _valid(commune="Villeneuve", commune_code="04242"))
    assert response.status_code == 303
    with app.app_context():
        initiative = db.session.scalars(
            sa.select(Initiative).where(Initiative.title == "Jardin partagé des Tilleuls")
        ).one()
        assert [place.commune_code for place in initiative.places] == ["04242"]


@pytest.mark.parametrize(("typed", "code"), [("84000", "84007"), ("nice", "06088")])
def test_commune_by_postcode_or_loose_name(app, client, csrf_token, typed, code):
    assert _post(client, csrf_token, _valid(commune=typed)).status_code == 303
    with app.app_context():
        initiative = db.session.scalars(
            sa.select(Initiative).where(Initiative.title == "Jardin partagé des Tilleuls")
        ).one()
        assert initiative.places[0].commune_code == code


HOSTILE = [
    ("title", "x" * 10_000, "200 caractères au plus"),
    ("summary", "y" * 10_000, "300 caractères au plus"),
    ("description", "z" * 10_001, "caractères au plus"),
    ("title", "Jardin\x00partagé", "caractères non autorisés"),
    ("proposer_name", "Nom\x00", "caractères non autorisés"),
    ("title", "<script>alert(1)</script>", "sans balises HTML"),
    ("summary", '"><img src=x onerror=alert(1)>', "sans balises HTML"),
    ("commune", '"><img src=x onerror=alert(1)>', "sans balises HTML"),
    ("commune", "Nullepartville", "Aucune commune ne correspond"),
    ("website", "javascript:alert(1)", "adresse web complète"),
    ("proposer_email", "pas-une-adresse", "adresse électronique valide"),
    ("proposer_email", None, "Indiquez votre adresse électronique"),
    ("proposer_name", None, "Indiquez votre nom"),
    ("title", "", "Indiquez le nom de l’initiative"),
    ("consent", None, "Cochez cette case"),
    ("themes", ["pas-un-theme"], "Choisissez des thèmes dans la liste"),
    ("themes", ["entraide-et-solidarite", "<b>"], "Choisissez des thèmes dans la liste"),
]


@pytest.mark.parametrize(("name", "value", "message"), HOSTILE)
def test_bad_input_gives_french_errors_and_stores_nothing(
    app, client, csrf_token, name, value, message
):
    before = _counts(app)
    response = _post(client, csrf_token, _valid(**{name: value}))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Le formulaire contient" in html
    assert message in html
    assert 'aria-invalid="true"' in html or name in ("consent", "themes")
    assert "<script>alert(1)</script>" not in html
    assert "<img src=x" not in html
    assert _counts(app) == before


def test_lists_for_scalars_and_empty_posts_do_not_break(app, client, csrf_token):
    before = _counts(app)
    token = csrf_token(client)
    response = client.post(
        "/proposer",
        data={"csrf_token": token, "title": ["Un", "Deux"], "consent": ["y", "n"]},
    )
    assert response.status_code == 200
    assert "Le formulaire contient" in response.get_data(as_text=True)
    response = client.post("/proposer", data={"csrf_token": token})
    assert response.status_code == 200
    assert _counts(app) == before


def test_plain_text_with_brackets_is_kept_and_escaped_for_reviewers(
    app, client, csrf_token, sign_in
):
    title = "Jardin <3 et >2 & co"
    assert _post(client, csrf_token, _valid(title=title)).status_code == 303
    with app.app_context():
        curator = make_user(role=Role.CURATOR)
        db.session.commit()
        revision_id = db.session.scalars(
            sa.select(Revision.id).where(Revision.proposer_email == EMAIL)
        ).one()
    reviewer = app.test_client()
    sign_in(reviewer, curator)
    for url in ("/gestion/propositions", f"/gestion/propositions/{revision_id}"):
        response = reviewer.get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, url
        assert "Jardin &lt;3 et &gt;2 &amp; co" in html, url
        assert "<3 et >2" not in html, url
