"""Staff duplicates pages (/gestion/doublons): likely pairs, side-by-side merge, permissions."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from factories import make_commune, make_initiative, make_organisation, make_user

from directory.extensions import db
from directory.models import AuditLog, Initiative, Role, SlugRedirect, Status, User
from directory.services import merge, workflow

MERGE_URL = "/gestion/doublons/fusionner?type=initiative&garder=jardin-partage&retirer=jardin-bis"


@pytest.fixture
def setting(app):
    with app.app_context():
        make_commune("13055")
        org = make_organisation(name="Association Alpha", slug="association-alpha")
        curator = make_user(role=Role.CURATOR, email="claire@example.org")
        partner = make_user(organisation=org, email="alice@example.org")
        make_initiative(
            slug="jardin-partage",
            title="Jardin partagé des Zéphyrins",
            summary="Résumé gardé.",
            lead=org,
            commune="13055",
        )
        make_initiative(
            slug="jardin-bis",
            title="Jardins partagés des Zephyrins",
            summary="Résumé retiré.",
            lead=org,
            commune="13055",
        )
        db.session.commit()
        return {"curator": curator, "curator_id": curator.id, "partner": partner}


@pytest.fixture
def staff(client, sign_in, setting):
    sign_in(client, setting["curator"])
    return client


def _token(app) -> str:
    with app.app_context():
        return merge.merge_token(
            workflow.find_entry("initiative", "jardin-partage"),
            workflow.find_entry("initiative", "jardin-bis"),
        )


def test_anonymous_is_sent_to_sign_in_and_partner_gets_403(app, client, sign_in, setting):
    addresses = ["/gestion/doublons", "/gestion/doublons?type=organisation", MERGE_URL]
    for address in addresses:
        response = client.get(address)
        assert response.status_code == 302
        assert "/connexion" in response.headers["Location"]
    sign_in(client, setting["partner"])
    for address in addresses:
        assert client.get(address).status_code == 403


def test_partner_post_is_refused_and_changes_nothing(app, client, sign_in, setting, csrf_token):
    sign_in(client, setting["partner"])
    response = client.post(MERGE_URL, data={"csrf_token": csrf_token(client), "token": _token(app)})
    assert response.status_code == 403
    with app.app_context():
        assert workflow.find_entry("initiative", "jardin-bis").status == Status.PUBLISHED


def test_pairs_page_lists_the_likely_duplicates(staff):
    response = staff.get("/gestion/doublons")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Doublons probables" in page
    assert "Jardins partagés des Zephyrins" in page
    assert "titre très proche, même commune, même organisation porteuse" in page
    assert "garder=jardin-partage&amp;retirer=jardin-bis" in page
    other = staff.get("/gestion/doublons?type=organisation&page=abc")
    assert other.status_code == 200
    assert "Aucun doublon probable" in other.get_data(as_text=True)
    assert staff.get("/gestion/doublons?type=<script>&page=99999").status_code == 200


def test_pairs_page_of_a_large_directory_is_built_in_the_background(app, staff, monkeypatch):
    from directory.services import duplicates

    monkeypatch.setattr(duplicates, "BACKGROUND_PAIRS_FROM", 1)
    first = staff.get("/gestion/doublons")
    assert first.status_code == 200
    assert "en cours de calcul" in first.get_data(as_text=True)
    app.extensions[duplicates.EXTENSION_KEY]["initiative"].builder.join(timeout=30)
    page = staff.get("/gestion/doublons").get_data(as_text=True)
    assert "en cours de calcul" not in page
    assert "garder=jardin-partage&amp;retirer=jardin-bis" in page


def test_merged_pair_leaves_the_listing(app, staff, csrf_token):
    assert "retirer=jardin-bis" in staff.get("/gestion/doublons").get_data(as_text=True)
    response = staff.post(MERGE_URL, data={"csrf_token": csrf_token(staff), "token": _token(app)})
    assert response.status_code == 302
    page = staff.get("/gestion/doublons").get_data(as_text=True)
    assert "retirer=jardin-bis" not in page
    assert "Aucun doublon probable" in page


def test_merge_form_shows_both_entries_side_by_side(staff):
    response = staff.get(MERGE_URL)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Résumé gardé." in page and "Résumé retiré." in page
    assert 'name="choix-summary" value="garder" checked' in page
    assert 'name="choix-summary" value="retirer"' in page
    assert 'name="token"' in page and 'name="csrf_token"' in page
    assert "garder=jardin-bis&amp;retirer=jardin-partage" in page  # swap link


def test_merge_applies_the_choices_and_redirects(app, staff, csrf_token):
    response = staff.post(
        MERGE_URL,
        data={
            "csrf_token": csrf_token(staff),
            "token": _token(app),
            "choix-summary": "retirer",
            "choix-title": "garder",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/initiatives/jardin-partage")
    page = staff.get(response.headers["Location"]).get_data(as_text=True)
    assert "Fiches fusionnées" in page
    with app.app_context():
        survivor = workflow.find_entry("initiative", "jardin-partage")
        assert survivor.summary == "Résumé retiré."
        assert survivor.title == "Jardin partagé des Zéphyrins"
        assert workflow.find_entry("initiative", "jardin-bis").status == Status.ARCHIVED
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(
            AuditLog.action == "entry.merged"
        )) == 1  # fmt: skip
    old = staff.get("/initiatives/jardin-bis")
    assert old.status_code == 301
    assert old.headers["Location"].endswith("/initiatives/jardin-partage")


def test_merge_without_csrf_token_is_refused(app, staff):
    response = staff.post(MERGE_URL, data={"token": _token(app)})
    assert response.status_code == 400
    with app.app_context():
        assert workflow.find_entry("initiative", "jardin-bis").status == Status.PUBLISHED


def test_stale_merge_is_refused_with_a_clear_message(app, staff, csrf_token, setting):
    token = _token(app)
    with app.app_context():
        entry = workflow.find_entry("initiative", "jardin-bis")
        curator = db.session.get(User, setting["curator_id"])
        workflow.submit_initiative(curator, {"summary": "Changé entre-temps."}, initiative=entry)
    response = staff.post(
        MERGE_URL,
        data={"csrf_token": csrf_token(staff), "token": token, "choix-summary": "retirer"},
    )
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "rien n’a été fusionné" in page
    assert "Changé entre-temps." in page  # the form shows the entry as it is now
    assert 'name="choix-summary" value="retirer" checked' in page  # the choice is kept
    with app.app_context():
        assert workflow.find_entry("initiative", "jardin-bis").status == Status.PUBLISHED
        assert db.session.scalar(sa.select(sa.func.count(SlugRedirect.id))) == 0


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 200),  # the chooser
        ("?type=initiative", 400),
        ("?type=evenement&garder=a&retirer=b", 400),
        ("?type=initiative&garder=jardin-partage&retirer=jardin-partage", 400),
        ("?type=initiative&garder=jardin-partage&retirer=inconnue", 404),
        ("?type=initiative&garder=jardin-partage&retirer=%00", 400),
        ("?type=initiative&garder=jardin-partage&retirer=" + "x" * 5000, 400),
        ("?type=organisation&garder=jardin-partage&retirer=jardin-bis", 404),
    ],
)
def test_bad_parameters_never_fail(staff, query, status):
    response = staff.get("/gestion/doublons/fusionner" + query)
    assert response.status_code == status
    assert "Fusionner deux" in response.get_data(as_text=True)


def test_pasted_addresses_are_understood(staff):
    response = staff.get(
        "/gestion/doublons/fusionner?type=initiative"
        "&garder=https://annuaire.example/initiatives/jardin-partage/&retirer=jardin-bis"
    )
    assert response.status_code == 200
    assert "Résumé retiré." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "data",
    [
        {"choix-title": "les-deux"},
        {"choix-title": "retirer\x00"},
        {"choix-summary": "x" * 10000},
    ],
)
def test_bad_choices_show_an_error_and_change_nothing(app, staff, csrf_token, data):
    response = staff.post(
        MERGE_URL, data={"csrf_token": csrf_token(staff), "token": _token(app), **data}
    )
    assert response.status_code == 400
    assert "Choix invalide" in response.get_data(as_text=True)
    with app.app_context():
        assert workflow.find_entry("initiative", "jardin-bis").status == Status.PUBLISHED
        assert db.session.scalar(sa.select(sa.func.count(SlugRedirect.id))) == 0


def test_post_on_an_impossible_pair_is_refused(app, staff, csrf_token):
    response = staff.post(
        "/gestion/doublons/fusionner?type=initiative&garder=jardin-bis&retirer=jardin-bis",
        data={"csrf_token": csrf_token(staff), "token": "x"},
    )
    assert response.status_code == 400


# -- the partner form warns of likely duplicates before creating ------------------------------

NEW = "/espace-partenaire/initiatives/nouvelle?organisation=association-alpha"


def _new_initiative(title: str, **extra: str) -> dict:
    return {
        "title": title,
        "summary": "",
        "places-0-commune": "",
        "lead": "association-alpha",
        "organisations-0-organisation": "",
        "organisations-0-role": "partenaire",
        "action": "save",
        **extra,
    }


def _count(app, title: str) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count()).select_from(Initiative).where(Initiative.title == title)
        )


def test_partner_form_warns_of_a_duplicate_then_creates_when_confirmed(
    app, client, sign_in, setting, csrf_token
):
    sign_in(client, setting["partner"])
    title = "JARDIN PARTAGE DES ZEPHYRINS"
    data = _new_initiative(title)
    response = client.post(NEW, data={**data, "csrf_token": csrf_token(client)})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Cette initiative est peut-être déjà dans l’annuaire" in page
    assert 'href="/initiatives/jardin-partage"' in page
    assert "titre très proche" in page
    assert 'name="creer_quand_meme"' in page
    assert f'value="{title}"' in page  # what was typed is kept
    assert _count(app, title) == 0

    response = client.post(
        NEW, data={**data, "creer_quand_meme": "1", "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 302
    assert _count(app, title) == 1


def test_partner_form_creates_at_once_without_likely_duplicate(
    app, client, sign_in, setting, csrf_token
):
    sign_in(client, setting["partner"])
    title = "Ludothèque itinérante des Calanques"
    response = client.post(NEW, data={**_new_initiative(title), "csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert _count(app, title) == 1


def test_partner_form_does_not_reveal_private_entries(app, client, sign_in, setting, csrf_token):
    with app.app_context():
        other = make_organisation(name="Autre association", slug="autre-association")
        make_initiative(
            slug="proposition-privee",
            title="Ressourcerie cachée des Goudes",
            lead=other,
            status=Status.PROPOSED,
        )
        db.session.commit()
    sign_in(client, setting["partner"])
    title = "Ressourcerie cachée des Goudes"
    response = client.post(NEW, data={**_new_initiative(title), "csrf_token": csrf_token(client)})
    assert response.status_code == 302  # nothing visible to this partner: created at once
    assert _count(app, title) == 2
