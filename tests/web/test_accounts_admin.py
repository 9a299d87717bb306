"""Staff page of accounts: who may deactivate, reactivate and change roles; sessions end."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from factories import TEST_PASSWORD, make_organisation, make_user

from directory.extensions import db
from directory.models import AuditLog, Role, User
from directory.services import permissions


@pytest.fixture
def people(app):
    with app.app_context():
        organisation = make_organisation(name="Association Horizon")
        partner = make_user(organisation=organisation, email="partenaire@example.org")
        curator = make_user(role=Role.CURATOR, email="curateur@example.org")
        other_curator = make_user(role=Role.CURATOR, email="collegue@example.org")
        admin = make_user(role=Role.ADMIN, email="admin@example.org")
        db.session.commit()
        return {
            "partner": partner.id,
            "curator": curator.id,
            "other_curator": other_curator.id,
            "admin": admin.id,
        }


def _as(app, client, sign_in, user_id):
    with app.app_context():
        sign_in(client, db.session.get(User, user_id))


def _account(app, user_id) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def test_partners_cannot_reach_the_accounts_page(app, client, sign_in, csrf_token, people):
    _as(app, client, sign_in, people["partner"])
    assert client.get("/gestion/comptes").status_code == 403
    response = client.post(
        f"/gestion/comptes/{people['curator']}/desactiver",
        data={"csrf_token": csrf_token(client)},
    )
    assert response.status_code == 403
    assert _account(app, people["curator"]).active
    assert client.get("/gestion/comptes", follow_redirects=False).status_code == 403


def test_anonymous_people_are_sent_to_sign_in(client, people):
    response = client.get("/gestion/comptes")
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]


def test_curator_lists_and_filters_accounts(app, client, sign_in, people):
    _as(app, client, sign_in, people["curator"])
    page = client.get("/gestion/comptes").get_data(as_text=True)
    assert "<title>Comptes — " in page
    assert "partenaire@example.org" in page and "admin@example.org" in page
    filtered = client.get("/gestion/comptes?q=PARTEN&role=partner&etat=actifs").get_data(
        as_text=True
    )
    assert "partenaire@example.org" in filtered and "admin@example.org" not in filtered
    for query in ("q=%00%25_\\", "role=<script>", "page=-1", "page=99999999999", "etat=x"):
        assert client.get(f"/gestion/comptes?{query}").status_code == 200


def test_deactivation_ends_the_sessions_and_sign_in(app, client, sign_in, csrf_token, people):
    victim = app.test_client()
    victim.post(
        "/connexion",
        data={
            "email": "partenaire@example.org",
            "password": TEST_PASSWORD,
            "csrf_token": csrf_token(victim),
        },
    )
    copied = victim.get_cookie("session").value
    assert victim.get("/compte").status_code == 200

    _as(app, client, sign_in, people["curator"])
    assert client.post(f"/gestion/comptes/{people['partner']}/desactiver").status_code == 400
    response = client.post(
        f"/gestion/comptes/{people['partner']}/desactiver",
        data={"csrf_token": csrf_token(client)},
    )
    assert response.status_code == 302
    assert not _account(app, people["partner"]).active
    assert victim.get("/compte").status_code == 302
    fresh = app.test_client()
    fresh.set_cookie("session", copied)  # a copy of the session cookie is no way back in
    assert fresh.get("/compte").status_code == 302
    again = fresh.post(
        "/connexion",
        data={
            "email": "partenaire@example.org",
            "password": TEST_PASSWORD,
            "csrf_token": csrf_token(fresh),
        },
    )
    assert "Adresse électronique ou mot de passe incorrect." in again.get_data(as_text=True)

    client.post(
        f"/gestion/comptes/{people['partner']}/reactiver",
        data={"csrf_token": csrf_token(client)},
    )
    assert _account(app, people["partner"]).active
    with app.app_context():
        actions = list(
            db.session.scalars(sa.select(AuditLog.action).where(AuditLog.action.like("account.%")))
        )
    assert "account.deactivated" in actions and "account.reactivated" in actions


def test_curator_cannot_deactivate_staff_or_self(app, client, sign_in, csrf_token, people):
    _as(app, client, sign_in, people["curator"])
    for target in ("other_curator", "admin", "curator"):
        response = client.post(
            f"/gestion/comptes/{people[target]}/desactiver",
            data={"csrf_token": csrf_token(client)},
        )
        assert response.status_code == 403, target
        assert _account(app, people[target]).active
    assert (
        client.post(
            "/gestion/comptes/999999/desactiver", data={"csrf_token": csrf_token(client)}
        ).status_code
        == 404
    )


def test_only_admins_change_roles(app, client, sign_in, csrf_token, people):
    _as(app, client, sign_in, people["curator"])
    response = client.post(
        f"/gestion/comptes/{people['partner']}/role",
        data={"role": "admin", "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 403
    assert _account(app, people["partner"]).role == Role.PARTNER

    admin = app.test_client()
    _as(app, admin, sign_in, people["admin"])
    response = admin.post(
        f"/gestion/comptes/{people['partner']}/role",
        data={"role": "curator", "csrf_token": csrf_token(admin)},
    )
    assert response.status_code == 302
    assert _account(app, people["partner"]).role == Role.CURATOR
    bogus = admin.post(
        f"/gestion/comptes/{people['partner']}/role",
        data={"role": "<script>", "csrf_token": csrf_token(admin)},
    )
    assert bogus.status_code == 302
    assert _account(app, people["partner"]).role == Role.CURATOR
    own = admin.post(
        f"/gestion/comptes/{people['admin']}/role",
        data={"role": "partner", "csrf_token": csrf_token(admin)},
    )
    assert own.status_code == 403
    assert _account(app, people["admin"]).role == Role.ADMIN
    with app.app_context():
        row = db.session.scalar(
            sa.select(AuditLog).where(AuditLog.action == "account.role_changed")
        )
        assert row.details["before"] == "partner" and row.details["after"] == "curator"


def test_admin_may_deactivate_a_curator(app, client, sign_in, csrf_token, people):
    _as(app, client, sign_in, people["admin"])
    response = client.post(
        f"/gestion/comptes/{people['curator']}/desactiver",
        data={"csrf_token": csrf_token(client)},
    )
    assert response.status_code == 302
    assert not _account(app, people["curator"]).active


def test_deactivation_rule_table(app_ctx):
    partner = make_user(role=Role.PARTNER)
    curator = make_user(role=Role.CURATOR)
    admin = make_user(role=Role.ADMIN)
    other_admin = make_user(role=Role.ADMIN)
    expected = {
        (partner, partner): False,
        (partner, curator): False,
        (curator, partner): True,
        (curator, curator): False,
        (curator, admin): False,
        (admin, partner): True,
        (admin, curator): True,
        (admin, admin): False,
        (admin, other_admin): True,
        (None, partner): False,
    }
    for (actor, account), allowed in expected.items():
        assert permissions.can_deactivate_account(actor, account) is allowed
