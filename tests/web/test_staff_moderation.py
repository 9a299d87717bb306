"""Staff pages (/gestion): queue, proposal diff, approve / reject, history, archive, restore."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from factories import make_commune, make_initiative, make_organisation, make_user

from directory.extensions import db
from directory.models import Initiative, Revision, RevisionState, Role, Status, User
from directory.services import workflow


@pytest.fixture
def setting(app):
    """A curator, a partner of A (and one of B), an initiative led by A, a few proposals."""
    with app.app_context():
        make_commune("13055")
        make_commune("06088")
        org_a = make_organisation(name="Association Alpha", slug="association-alpha")
        org_b = make_organisation(name="Association Beta", slug="association-beta")
        curator = make_user(role=Role.CURATOR, email="claire@example.org", name="Claire")
        partner = make_user(organisation=org_a, email="alice@example.org", name="Alice")
        partner_b = make_user(organisation=org_b, email="bruno@example.org", name="Bruno")
        initiative = make_initiative(
            slug="jardin-alpha",
            title="Jardin Alpha",
            summary="Résumé d’origine.",
            lead=org_a,
            commune="13055",
        )
        db.session.commit()
        update = workflow.submit_initiative(
            partner,
            {"title": "Jardin Alpha et Oméga"},
            initiative=initiative,
            token=workflow.edit_token(initiative),
        )
        creation = workflow.submit_initiative(
            partner_b,
            {"title": "Ressourcerie Beta", "places": [{"commune_code": "06088"}]},
            organisation=org_b,
        )
        anonymous = workflow.propose_anonymous(
            {"title": "Café des voisins"},
            proposer_name="Dominique",
            proposer_email="dominique@example.net",
        )
        return {
            "curator": curator,
            "curator_id": curator.id,
            "partner": partner,
            "update": update.id,
            "creation": creation.id,
            "anonymous": anonymous.id,
            "org_b": org_b.slug,
        }


@pytest.fixture
def staff_client(client, sign_in, setting):
    sign_in(client, setting["curator"])
    return client


def test_partner_gets_403_and_anonymous_is_sent_away(client, sign_in, setting):
    for address in (
        "/gestion/",
        "/gestion/propositions",
        f"/gestion/propositions/{setting['update']}",
        "/gestion/initiatives/jardin-alpha/historique",
    ):
        assert client.get(address).status_code in (302, 401)
    sign_in(client, setting["partner"])
    for address in (
        "/gestion/",
        "/gestion/propositions",
        f"/gestion/revisions/{setting['update']}",
    ):
        assert client.get(address).status_code == 403
    assert "/gestion/" not in client.get("/").text


def test_landing_counts_pending_proposals(staff_client):
    page = staff_client.get("/gestion/")
    assert page.status_code == 200
    assert "<title>Gestion de l’annuaire" in page.text
    assert "3\u00a0propositions en attente" in page.text
    assert 'href="/gestion/"' in page.text  # header link for staff


def test_queue_lists_oldest_first_and_filters(staff_client, setting):
    page = staff_client.get("/gestion/propositions")
    assert page.status_code == 200
    text = page.text
    assert text.index("Jardin Alpha") < text.index("Ressourcerie Beta") < text.index("Café")
    only_b = staff_client.get(f"/gestion/propositions?organisation={setting['org_b']}").text
    assert "Ressourcerie Beta" in only_b and "Jardin Alpha" not in only_b
    in_06 = staff_client.get("/gestion/propositions?departement=06").text
    assert "Ressourcerie Beta" in in_06 and "Café des voisins" not in in_06
    updates = staff_client.get("/gestion/propositions?type=initiative&action=update").text
    assert "Jardin Alpha" in updates and "Ressourcerie Beta" not in updates
    empty = staff_client.get("/gestion/propositions?type=organisation")
    assert "Aucune proposition en attente ne correspond" in empty.text
    odd = staff_client.get("/gestion/propositions?type=%00&departement=zz&page=-3&organisation=x")
    assert odd.status_code == 200 and "3\u00a0propositions" in odd.text


def test_proposal_shows_only_changed_fields_and_proposer_contact(staff_client, setting):
    page = staff_client.get(f"/gestion/propositions/{setting['update']}")
    assert page.status_code == 200
    assert "<caption>" in page.text
    assert "Jardin Alpha et Oméga" in page.text
    assert ">Titre</th>" in page.text
    assert ">Résumé</th>" not in page.text  # unchanged
    assert "alice@example.org" in page.text
    anonymous = staff_client.get(f"/gestion/propositions/{setting['anonymous']}")
    assert "dominique@example.net" in anonymous.text
    assert staff_client.get("/gestion/propositions/999999").status_code == 404
    assert staff_client.get("/initiatives/cafe-des-voisins").status_code == 404


def test_approve_needs_csrf_then_applies_and_refuses_a_second_time(
    staff_client, setting, csrf_token, app
):
    address = f"/gestion/propositions/{setting['update']}/accepter"
    assert staff_client.post(address, data={"accepter-comment": "Merci"}).status_code == 400
    token = csrf_token(staff_client)
    response = staff_client.post(
        address, data={"csrf_token": token, "accepter-comment": "Merci"}, follow_redirects=True
    )
    assert response.status_code == 200
    assert "Proposition acceptée" in response.text
    with app.app_context():
        initiative = db.session.scalar(
            sa.select(Initiative).where(Initiative.slug == "jardin-alpha")
        )
        assert initiative.title == "Jardin Alpha et Oméga"
        assert db.session.get(Revision, setting["update"]).state == RevisionState.APPLIED
    again = staff_client.post(address, data={"csrf_token": token}, follow_redirects=True)
    assert "Cette proposition a déjà été traitée." in again.text
    assert "Jardin Alpha et Oméga" in staff_client.get("/initiatives/jardin-alpha").text


def test_reject_requires_a_reason(staff_client, setting, csrf_token, app):
    address = f"/gestion/propositions/{setting['creation']}/refuser"
    token = csrf_token(staff_client)
    empty = staff_client.post(address, data={"csrf_token": token, "refuser-comment": "  "})
    assert empty.status_code == 400
    assert "Indiquez le motif du refus" in empty.text
    assert 'aria-describedby="refuser-comment-messages"' in empty.text
    for bad in ("<script>alert(1)</script>", "nul\x00", "x" * 2001):
        refused = staff_client.post(address, data={"csrf_token": token, "refuser-comment": bad})
        assert refused.status_code == 400
    done = staff_client.post(
        address,
        data={"csrf_token": token, "refuser-comment": "Hors du champ de l’annuaire."},
        follow_redirects=True,
    )
    assert "Proposition refusée" in done.text
    with app.app_context():
        revision = db.session.get(Revision, setting["creation"])
        assert revision.state == RevisionState.REJECTED
        assert revision.comment == "Hors du champ de l’annuaire."
        assert db.session.get(Initiative, revision.entity_id).status == Status.DRAFT


def test_partner_cannot_post_review_actions(client, sign_in, setting, csrf_token):
    sign_in(client, setting["partner"])
    token = csrf_token(client)
    address = f"/gestion/propositions/{setting['update']}/accepter"
    assert client.post(address, data={"csrf_token": token}).status_code == 403
    archive = "/gestion/initiatives/jardin-alpha/archiver"
    assert client.post(archive, data={"csrf_token": token}).status_code == 403


def test_history_archive_restore_round_trip(staff_client, setting, csrf_token, app):
    with app.app_context():
        curator = db.session.get(User, setting["curator_id"])
        initiative = db.session.scalar(
            sa.select(Initiative).where(Initiative.slug == "jardin-alpha")
        )
        first = workflow.submit_initiative(
            curator, {"summary": "Version A"}, initiative=initiative, token=None
        )
        workflow.submit_initiative(curator, {"summary": "Version B"}, initiative=initiative)
        first_id = first.id
    history = staff_client.get("/gestion/initiatives/jardin-alpha/historique")
    assert history.status_code == 200
    assert "Résumé" in history.text and "Claire" in history.text
    assert f"/gestion/revisions/{first_id}" in history.text
    version = staff_client.get(f"/gestion/revisions/{first_id}")
    assert version.status_code == 200 and "Version A" in version.text
    token = csrf_token(staff_client)
    restore = f"/gestion/revisions/{first_id}/restaurer"
    assert staff_client.post(restore).status_code == 400
    restored = staff_client.post(restore, data={"csrf_token": token}, follow_redirects=True)
    assert f"La version n° {first_id} a été restaurée." in restored.text
    assert "Version A" in staff_client.get("/initiatives/jardin-alpha").text

    public = staff_client.get("/initiatives/jardin-alpha")
    assert "/gestion/initiatives/jardin-alpha/historique" in public.text
    archived = staff_client.post(
        "/gestion/initiatives/jardin-alpha/archiver",
        data={"csrf_token": token, "reason": "Action terminée"},
        follow_redirects=True,
    )
    assert "est archivée" in archived.text
    assert staff_client.get("/initiatives/jardin-alpha").status_code == 404
    twice = staff_client.post(
        "/gestion/initiatives/jardin-alpha/archiver",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "déjà archivée" in twice.text
    back = staff_client.post(
        "/gestion/initiatives/jardin-alpha/desarchiver",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "de nouveau publiée" in back.text
    assert staff_client.get("/initiatives/jardin-alpha").status_code == 200


def test_organisation_history_and_unknown_entries(staff_client, csrf_token):
    assert (
        staff_client.get("/gestion/organisations/association-alpha/historique").status_code == 200
    )
    assert staff_client.get("/gestion/organisations/inconnue/historique").status_code == 404
    assert staff_client.get("/gestion/evenements/x/historique").status_code == 404
    assert staff_client.get("/gestion/revisions/999999").status_code == 404
    token = csrf_token(staff_client)
    missing = staff_client.post(
        "/gestion/initiatives/inconnue/archiver", data={"csrf_token": token}
    )
    assert missing.status_code == 404


def test_partner_does_not_see_the_staff_box(client, sign_in, setting):
    sign_in(client, setting["partner"])
    page = client.get("/initiatives/jardin-alpha")
    assert page.status_code == 200
    assert "/historique" not in page.text
