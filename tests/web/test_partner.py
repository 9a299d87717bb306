"""Partner space: dashboard, initiative and organisation forms, permissions, locking."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from factories import make_initiative, make_organisation, make_user

from directory.extensions import db
from directory.models import (
    Initiative,
    Organisation,
    RevisionState,
    Role,
    Status,
)
from directory.services import workflow


@pytest.fixture
def world(app):
    """Organisations A (with a published and a draft initiative), B and a trusted one."""
    with app.app_context():
        org_a = make_organisation(name="Association Alpha", slug="association-alpha")
        org_b = make_organisation(name="Association Beta", slug="association-beta")
        trusted = make_organisation(name="Collectif de confiance", slug="collectif-confiance")
        trusted.trusted = True
        make_organisation(name="Fondation Gamma", slug="fondation-gamma")
        make_initiative(
            slug="jardin-alpha",
            title="Jardin partagé Alpha",
            lead=org_a,
            commune="13055",
            description="Texte publié d’origine.",
        )
        make_initiative(
            slug="brouillon-alpha", title="Brouillon secret Alpha", lead=org_a, status=Status.DRAFT
        )
        make_initiative(slug="atelier-beta", title="Atelier Beta", lead=org_b)
        users = {
            "alice": make_user(organisation=org_a, email="alice@example.org", name="Alice"),
            "bruno": make_user(organisation=org_b, email="bruno@example.org", name="Bruno"),
            "tess": make_user(organisation=trusted, email="tess@example.org", name="Tess"),
            "claire": make_user(role=Role.CURATOR, email="claire@example.org", name="Claire"),
            "nobody": make_user(email="personne@example.org", name="Sans organisation"),
        }
        db.session.commit()
        return {name: user.id for name, user in users.items()}


@pytest.fixture
def login(app, client, sign_in, world):
    from directory.models import User

    def _login(name: str):
        with app.app_context():
            sign_in(client, db.session.get(User, world[name]))
        return client

    return _login


def _initiative(app, slug: str) -> Initiative:
    with app.app_context():
        initiative = db.session.scalar(sa.select(Initiative).where(Initiative.slug == slug))
        if initiative is not None:
            db.session.expunge(initiative)
        return initiative


def _revisions(app, slug: str) -> list[tuple[RevisionState, str | None]]:
    with app.app_context():
        initiative = db.session.scalar(sa.select(Initiative).where(Initiative.slug == slug))
        return [(r.state, r.comment) for r in workflow.history(initiative)]


def _token(app, slug: str, model=Initiative) -> str:
    with app.app_context():
        entry = db.session.scalar(sa.select(model).where(model.slug == slug))
        return workflow.edit_token(entry)


def _initiative_data(**overrides) -> dict:
    data = {
        "title": "Repair café des Tilleuls",
        "summary": "Réparer ensemble plutôt que jeter.",
        "description": "Un samedi par mois.\n\nOuvert à tous.",
        "stage": "deploiement",
        "start_year": "2010",
        "end_year": "",
        "website": "https://repair.example.org",
        "contact_email": "contact@repair.example.org",
        "contact_phone": "04 91 00 00 00",
        "genesis": "Des voisins bricoleurs.",
        "themes": ["entraide-et-solidarite"],
        "places-0-label": "Maison de quartier",
        "places-0-address": "1 rue des Tilleuls",
        "places-0-commune": "Marseille",
        "places-0-commune_code": "",
        "places-0-latitude": "",
        "places-0-longitude": "",
        "lead": "association-alpha",
        "organisations-0-organisation": "fondation-gamma",
        "organisations-0-role": "financeur",
        "action": "save",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def _post(client, csrf_token, url, data, **kwargs):
    return client.post(url, data={**data, "csrf_token": csrf_token(client)}, **kwargs)


# -- access -----------------------------------------------------------------------------------


def test_anonymous_people_are_sent_to_sign_in(client, world):
    for url in (
        "/espace-partenaire/",
        "/espace-partenaire/initiatives/jardin-alpha/modifier",
        "/espace-partenaire/organisations/association-alpha/modifier",
        "/espace-partenaire/communes?q=mars",
    ):
        response = client.get(url)
        assert response.status_code in (302, 401), url


def test_dashboard_lists_organisations_initiatives_and_statuses(login):
    client = login("alice")
    response = client.get("/espace-partenaire/")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert "<title>Espace partenaire — " in html
    assert "Association Alpha" in html
    assert "Jardin partagé Alpha" in html
    assert "Brouillon secret Alpha" in html
    assert "Brouillon" in html and "Publié" in html
    assert "/espace-partenaire/initiatives/nouvelle?organisation=association-alpha" in html
    assert "/espace-partenaire/organisations/association-alpha/modifier" in html
    assert "Atelier Beta" not in html  # B's initiatives are not Alice's business


def test_dashboard_empty_state_and_staff_note(login, client):
    login("nobody")
    html = client.get("/espace-partenaire/").get_data(as_text=True)
    assert "Vous n’êtes rattaché·e à aucune organisation" in html
    login("claire")
    html = client.get("/espace-partenaire/").get_data(as_text=True)
    assert "équipe de la DRJSCS" in html


def test_member_of_b_cannot_open_a_s_pages(login, client):
    login("bruno")
    assert client.get("/espace-partenaire/initiatives/jardin-alpha/modifier").status_code == 403
    # A's draft is not public: its existence is not revealed.
    assert client.get("/espace-partenaire/initiatives/brouillon-alpha/modifier").status_code == 404
    assert client.get("/espace-partenaire/initiatives/inconnue/modifier").status_code == 404
    url = "/espace-partenaire/organisations/association-alpha/modifier"
    assert client.get(url).status_code == 403
    assert client.get("/espace-partenaire/organisations/inconnue/modifier").status_code == 404
    new = "/espace-partenaire/initiatives/nouvelle?organisation=association-alpha"
    assert client.get(new).status_code == 403
    assert client.get("/espace-partenaire/initiatives/nouvelle?organisation=x").status_code == 404
    for odd in ("%00", "a%00b", "..%2F..", "%C3%A9t%C3%A9"):
        assert client.get(f"/espace-partenaire/initiatives/{odd}/modifier").status_code == 404
        assert client.get(f"/espace-partenaire/organisations/{odd}/modifier").status_code == 404
        assert (
            client.get(f"/espace-partenaire/initiatives/nouvelle?organisation={odd}").status_code
            == 404
        )


def test_account_without_organisation_cannot_create(login):
    client = login("nobody")
    assert client.get("/espace-partenaire/initiatives/nouvelle").status_code == 403


# -- creating and editing ------------------------------------------------------------------------


def test_partner_creates_an_initiative_as_a_proposal(app, login, csrf_token):
    client = login("alice")
    url = "/espace-partenaire/initiatives/nouvelle?organisation=association-alpha"
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="title"' in page.get_data(as_text=True)
    response = _post(client, csrf_token, url, _initiative_data())
    assert response.status_code == 302
    created = _initiative(app, "repair-cafe-des-tilleuls")
    assert created is not None and created.status == Status.PROPOSED
    assert _revisions(app, "repair-cafe-des-tilleuls")[0][0] == RevisionState.PROPOSED
    followed = client.get(response.headers["Location"])
    assert "Votre proposition a été transmise à l’équipe de la DRJSCS" in followed.get_data(
        as_text=True
    )
    # Not on the public pages.
    anonymous = app.test_client()
    assert anonymous.get("/initiatives/repair-cafe-des-tilleuls").status_code == 404
    assert "Repair café" not in anonymous.get("/initiatives").get_data(as_text=True)
    with app.app_context():
        stored = db.session.scalar(
            sa.select(Initiative).where(Initiative.slug == "repair-cafe-des-tilleuls")
        )
        assert stored.description == "<p>Un samedi par mois.</p><p>Ouvert à tous.</p>"
        assert stored.places[0].commune_code == "13055"
        assert [
            (link.organisation.slug, link.role.value) for link in stored.organisation_links
        ] == [
            ("association-alpha", "porteur"),
            ("fondation-gamma", "financeur"),
        ]
        assert stored.start_year == 2010 and stored.stage.value == "deploiement"
    # The form shows the paragraphs as typed, not as HTML.
    form = client.get("/espace-partenaire/initiatives/repair-cafe-des-tilleuls/modifier")
    html = form.get_data(as_text=True)
    assert "Un samedi par mois.\n\nOuvert à tous.</textarea>" in html
    assert "&lt;p&gt;" not in html


def test_csrf_token_is_required(app, login):
    client = login("alice")
    url = "/espace-partenaire/initiatives/nouvelle?organisation=association-alpha"
    response = client.post(url, data=_initiative_data())
    assert response.status_code == 400
    assert _initiative(app, "repair-cafe-des-tilleuls") is None


def test_partner_edit_of_published_initiative_waits_for_review(app, login, csrf_token):
    client = login("alice")
    url = "/espace-partenaire/initiatives/jardin-alpha/modifier"
    page = client.get(url).get_data(as_text=True)
    assert "Texte publié d’origine." in page
    data = _initiative_data(
        title="Jardin partagé Alpha",
        description="Nouveau texte proposé.",
        token=_token(app, "jardin-alpha"),
    )
    response = _post(client, csrf_token, url, data)
    assert response.status_code == 302
    public = app.test_client().get("/initiatives/jardin-alpha").get_data(as_text=True)
    assert "Texte publié d’origine." in public
    assert "Nouveau texte proposé." not in public
    assert _revisions(app, "jardin-alpha")[0][0] == RevisionState.PROPOSED
    # The dashboard shows the pending proposal; the form starts from it.
    assert "Proposition en attente" in client.get("/espace-partenaire/").get_data(as_text=True)
    assert "Nouveau texte proposé." in client.get(url).get_data(as_text=True)


def test_trusted_organisation_publishes_at_once(app, login, csrf_token):
    client = login("tess")
    url = "/espace-partenaire/initiatives/nouvelle?organisation=collectif-confiance"
    data = _initiative_data(lead="collectif-confiance", title="Café des aidants")
    response = _post(client, csrf_token, url, data)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/initiatives/cafe-des-aidants")
    assert _initiative(app, "cafe-des-aidants").status == Status.PUBLISHED
    assert app.test_client().get("/initiatives/cafe-des-aidants").status_code == 200


def test_staff_edit_is_applied(app, login, csrf_token):
    client = login("claire")
    url = "/espace-partenaire/initiatives/jardin-alpha/modifier"
    assert client.get(url).status_code == 200
    data = _initiative_data(
        title="Jardin partagé Alpha",
        description="Corrigé par la DRJSCS.",
        token=_token(app, "jardin-alpha"),
    )
    response = _post(client, csrf_token, url, data)
    assert response.status_code == 302
    assert _revisions(app, "jardin-alpha")[0][0] == RevisionState.APPLIED
    public = app.test_client().get("/initiatives/jardin-alpha").get_data(as_text=True)
    assert "Corrigé par la DRJSCS." in public
    followed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Modifications publiées." in followed


def test_member_of_b_cannot_smuggle_a_as_lead(app, login, csrf_token):
    client = login("bruno")
    url = "/espace-partenaire/initiatives/nouvelle?organisation=association-beta"
    for data in (
        _initiative_data(lead="association-alpha", title="Contrebande"),
        _initiative_data(
            lead="association-beta",
            title="Contrebande",
            **{
                "organisations-0-organisation": "association-alpha",
                "organisations-0-role": "porteur",
            },
        ),
    ):
        response = _post(client, csrf_token, url, data)
        assert response.status_code == 422
        assert "fr-alert--error" in response.get_data(as_text=True)
    # Posting to B's edit route of A's initiative is refused too.
    edit = "/espace-partenaire/initiatives/jardin-alpha/modifier"
    response = _post(client, csrf_token, edit, _initiative_data(lead="association-beta"))
    assert response.status_code == 403
    assert _initiative(app, "contrebande") is None
    assert _revisions(app, "jardin-alpha") == []


def test_stale_token_keeps_the_text_and_answers_409(app, login, csrf_token, sign_in):
    client = login("alice")
    url = "/espace-partenaire/initiatives/jardin-alpha/modifier"
    old_token = _token(app, "jardin-alpha")
    # A curator changes the entry meanwhile.
    curator = app.test_client()
    with app.app_context():
        from directory.models import User

        sign_in(
            curator, db.session.scalar(sa.select(User).where(User.email == "claire@example.org"))
        )
    done = _post(
        curator,
        csrf_token,
        url,
        _initiative_data(
            title="Jardin partagé Alpha", token=old_token, description="Version DRJSCS"
        ),
    )
    assert done.status_code == 302
    data = _initiative_data(
        title="Jardin partagé Alpha", description="Mon texte à ne pas perdre", token=old_token
    )
    response = _post(client, csrf_token, url, data)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Mon texte à ne pas perdre" in html
    assert "Quelqu’un d’autre a modifié cette fiche" in html
    assert f'value="{old_token}"' in html  # a second blind save is refused again
    assert 'target="_blank"' in html
    again = _post(client, csrf_token, url, data)
    assert again.status_code == 409


def test_dashboard_shows_a_refused_proposal_with_the_curator_comment(app, login, csrf_token):
    client = login("alice")
    url = "/espace-partenaire/initiatives/jardin-alpha/modifier"
    data = _initiative_data(title="Jardin partagé Alpha", token=_token(app, "jardin-alpha"))
    assert _post(client, csrf_token, url, data).status_code == 302
    with app.app_context():
        from directory.models import User

        initiative = db.session.scalar(
            sa.select(Initiative).where(Initiative.slug == "jardin-alpha")
        )
        curator = db.session.scalar(sa.select(User).where(User.email == "claire@example.org"))
        workflow.reject(curator, workflow.pending_for(initiative)[0], "Merci de préciser le lieu.")
    html = client.get("/espace-partenaire/").get_data(as_text=True)
    assert "Proposition refusée" in html
    assert "« Merci de préciser le lieu. »" in html
    assert "Proposition en attente" not in html


def test_dashboard_lists_a_new_proposal_as_proposed(app, login, csrf_token):
    client = login("alice")
    url = "/espace-partenaire/initiatives/nouvelle?organisation=association-alpha"
    assert _post(client, csrf_token, url, _initiative_data()).status_code == 302
    html = client.get("/espace-partenaire/").get_data(as_text=True)
    assert "Repair café des Tilleuls" in html
    assert "Proposé" in html and "Proposition en attente" in html
    # Its author may open it again; another organisation may not even see it exists.
    edit = "/espace-partenaire/initiatives/repair-cafe-des-tilleuls/modifier"
    assert client.get(edit).status_code == 200
    login("bruno")
    assert client.get(edit).status_code == 404


def test_partner_edits_the_organisation_profile_as_a_proposal(app, login, csrf_token):
    client = login("alice")
    url = "/espace-partenaire/organisations/association-alpha/modifier"
    page = client.get(url).get_data(as_text=True)
    assert 'value="Association Alpha"' in page
    data = {
        "name": "Association Alpha renommée",
        "kind": "association",
        "commune": "Marseille",
        "token": _token(app, "association-alpha", Organisation),
    }
    response = _post(client, csrf_token, url, data)
    assert response.status_code == 302
    with app.app_context():
        organisation = db.session.scalar(
            sa.select(Organisation).where(Organisation.slug == "association-alpha")
        )
        assert organisation.name == "Association Alpha"  # unchanged until approved
        assert workflow.pending_for(organisation)[0].snapshot["name"] == (
            "Association Alpha renommée"
        )
