"""Members of an organisation: who may manage them; invitations through a real SMTP server."""

from __future__ import annotations

import email
import re
import socket
from email import policy
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from factories import TEST_PASSWORD, make_organisation, make_user

from directory.extensions import db
from directory.models import AuditLog, Membership, Role, Status, User
from directory.services import accounts

NEW_PASSWORD = "ma phrase de passe toute neuve"


class Inbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp(app):
    """A real SMTP server on 127.0.0.1; the app sends its mail there."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=controller.port)
    yield inbox
    controller.stop()


@pytest.fixture
def world(app):
    """Two organisations, each with one member, a curator, and a draft organisation."""
    with app.app_context():
        horizon = make_organisation(name="Association Horizon", slug="horizon")
        escale = make_organisation(name="L’Escale", slug="escale")
        make_organisation(name="Brouillon", slug="brouillon", status=Status.DRAFT)
        alice = make_user(organisation=horizon, email="alice@example.org", name="Alice Martin")
        bruno = make_user(organisation=escale, email="bruno@example.org", name="Bruno Durand")
        curator = make_user(email="curatrice@example.org", role=Role.CURATOR, name="Claire")
        db.session.commit()
        return {"alice": alice.id, "bruno": bruno.id, "curator": curator.id}


def _as(app, client, sign_in, user_id):
    with app.app_context():
        sign_in(client, db.session.get(User, user_id))


def _members(app, slug: str) -> set[str]:
    with app.app_context():
        return set(
            db.session.scalars(
                sa.select(User.email)
                .join(Membership, Membership.user_id == User.id)
                .join(Membership.organisation)
                .where(Membership.organisation.has(slug=slug))
            )
        )


def _invite(client, csrf_token, slug="horizon", **data):
    data.setdefault("csrf_token", csrf_token(client))
    return client.post(f"/espace-partenaire/organisations/{slug}/membres/inviter", data=data)


def _link(message) -> str:
    body = message.get_content()
    match = re.search(r"https?://[^/\s]+(/invitation/[A-Za-z0-9_.\-]+)", body)
    assert match, body
    return match.group(1)


# -- who sees what -------------------------------------------------------------------------


def test_member_sees_own_organisation_members(app, client, sign_in, world):
    _as(app, client, sign_in, world["alice"])
    response = client.get("/espace-partenaire/organisations/horizon/membres")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<title>Membres de Association Horizon — " in page
    assert "alice@example.org" in page
    assert "bruno@example.org" not in page
    assert "Inviter une personne" in page


def test_member_of_one_organisation_cannot_manage_another(app, client, sign_in, csrf_token, world):
    _as(app, client, sign_in, world["alice"])
    assert client.get("/espace-partenaire/organisations/escale/membres").status_code == 403
    assert _invite(client, csrf_token, slug="escale", email="x@example.org").status_code == 403
    response = client.post(
        f"/espace-partenaire/organisations/escale/membres/{world['bruno']}/retirer",
        data={"csrf_token": csrf_token(client)},
    )
    assert response.status_code == 403
    assert _members(app, "escale") == {"bruno@example.org"}
    with app.app_context():
        assert db.session.scalar(sa.select(User).where(User.email == "x@example.org")) is None


def test_private_organisation_and_unknown_one_are_not_found(app, client, sign_in, world):
    _as(app, client, sign_in, world["alice"])
    assert client.get("/espace-partenaire/organisations/brouillon/membres").status_code == 404
    assert client.get("/espace-partenaire/organisations/nulle-part/membres").status_code == 404
    assert client.get(
        "/espace-partenaire/organisations/" + "x" * 5000 + "/membres"
    ).status_code in (
        404,
        414,
    )


def test_anonymous_people_are_sent_to_sign_in(client, world):
    response = client.get("/espace-partenaire/organisations/horizon/membres")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion")


def test_staff_reach_any_organisation(app, client, sign_in, csrf_token, world, smtp):
    _as(app, client, sign_in, world["curator"])
    assert client.get("/espace-partenaire/organisations/escale/membres").status_code == 200
    assert client.get("/espace-partenaire/organisations/brouillon/membres").status_code == 200
    response = _invite(client, csrf_token, slug="brouillon", email="nouveau@example.org")
    assert response.status_code == 302
    assert _members(app, "brouillon") == {"nouveau@example.org"}


def test_invitation_needs_csrf(app, client, sign_in, world):
    _as(app, client, sign_in, world["alice"])
    response = client.post(
        "/espace-partenaire/organisations/horizon/membres/inviter",
        data={"email": "sans-jeton@example.org"},
    )
    assert response.status_code == 400
    assert _members(app, "horizon") == {"alice@example.org"}


# -- invitations ---------------------------------------------------------------------------


def test_invitation_end_to_end_through_smtp(app, client, sign_in, csrf_token, world, smtp):
    _as(app, client, sign_in, world["alice"])
    response = _invite(client, csrf_token, email="Nina@Example.org", name="Nina Roux")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Invitation envoyée à nina@example.org" in page
    assert "Invitation en attente" in page

    ((recipients, message),) = smtp.messages
    assert recipients == ["nina@example.org"]
    assert message["To"] == "nina@example.org"
    assert message["Subject"] == (
        "Invitation à rejoindre Association Horizon sur l'Annuaire de l'innovation sociale"
    )
    assert "Alice Martin vous invite" in message.get_content()
    link = _link(message)

    invited = app.test_client()
    form = invited.get(link)
    assert form.status_code == 200
    assert "nina@example.org" in form.get_data(as_text=True)
    # The new account cannot sign in before choosing a password.
    response = invited.post(
        link,
        data={"password": "court", "confirm": "court", "csrf_token": csrf_token(invited)},
    )
    assert "au moins 10 caractères" in response.get_data(as_text=True)
    response = invited.post(
        link,
        data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf_token(invited)},
    )
    assert response.status_code == 302
    account = invited.get("/compte")
    assert account.status_code == 200
    assert "Association Horizon" in account.get_data(as_text=True)
    with app.app_context():
        nina = db.session.scalar(sa.select(User).where(User.email == "nina@example.org"))
        assert nina.name == "Nina Roux"
        assert nina.role == Role.PARTNER
        assert accounts.verify_password(nina, NEW_PASSWORD)
        actions = set(db.session.scalars(sa.select(AuditLog.action)))
        assert {"member.invited", "account.invitation_accepted", "auth.login"} <= actions
    # Single use.
    again = app.test_client().get(link)
    assert again.status_code == 410
    assert "déjà été utilisé" in again.get_data(as_text=True)


def test_expired_invitation(app, client, sign_in, csrf_token, world, smtp):
    _as(app, client, sign_in, world["alice"])
    _invite(client, csrf_token, email="tardif@example.org")
    link = _link(smtp.messages[0][1])
    app.config["INVITATION_MAX_AGE"] = -1
    response = app.test_client().get(link)
    assert response.status_code == 410
    assert "Ce lien a expiré." in response.get_data(as_text=True)


def test_existing_account_gets_the_membership_and_a_notice(
    app, client, sign_in, csrf_token, world, smtp
):
    _as(app, client, sign_in, world["alice"])
    response = _invite(client, csrf_token, email="bruno@example.org")
    assert response.status_code == 302
    assert _members(app, "horizon") == {"alice@example.org", "bruno@example.org"}
    ((recipients, message),) = smtp.messages
    assert recipients == ["bruno@example.org"]
    assert message["Subject"].startswith("Vous êtes membre de Association Horizon")
    assert "/invitation/" not in message.get_content()
    with app.app_context():
        assert accounts.verify_password(db.session.get(User, world["bruno"]), TEST_PASSWORD)


def test_inviting_a_member_twice_is_a_form_error(app, client, sign_in, csrf_token, world, smtp):
    _as(app, client, sign_in, world["alice"])
    response = _invite(client, csrf_token, email="ALICE@example.org")
    assert response.status_code == 200
    assert "déjà membre" in response.get_data(as_text=True)
    assert smtp.messages == []


def test_invitation_written_to_the_outbox_without_smtp(app, client, sign_in, csrf_token, world):
    assert not app.config.get("MAIL_SERVER")
    _as(app, client, sign_in, world["alice"])
    assert _invite(client, csrf_token, email="hors-ligne@example.org").status_code == 302
    (path,) = (Path(app.instance_path) / "outbox").glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["To"] == "hors-ligne@example.org"
    link = _link(message)
    assert app.test_client().get(link).status_code == 200


def test_unreachable_smtp_keeps_the_membership_and_logs(
    app, client, sign_in, csrf_token, world, caplog
):
    # The mail leaves after the response: the page cannot know, so it says the same as ever.
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=_free_port(), MAIL_TIMEOUT=2)
    _as(app, client, sign_in, world["alice"])
    response = _invite(client, csrf_token, email="injoignable@example.org")
    assert response.status_code == 302
    assert "Échec de l'envoi du courriel" in caplog.text
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Invitation envoyée à injoignable@example.org" in page
    assert "injoignable@example.org" in _members(app, "horizon")


@pytest.mark.parametrize(
    "data",
    [
        {"email": "a" * 100_000 + "@example.org"},
        {"email": "nul\x00@example.org"},
        {"email": "<script>alert(1)</script>@example.org"},
        {"email": "pas-une-adresse"},
        {"email": ""},
        {"email": "ok@example.org", "name": "<b>gras</b>"},
        {"email": "ok@example.org", "name": "Nom\x00nul"},
        {"email": "ok@example.org", "name": "n" * 10_000},
    ],
)
def test_hostile_invitation_input_is_a_form_error(
    app, client, sign_in, csrf_token, world, smtp, data
):
    _as(app, client, sign_in, world["alice"])
    response = _invite(client, csrf_token, **data)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "fr-input-group--error" in page
    assert "<script>alert(1)</script>" not in page and "<b>gras</b>" not in page
    assert _members(app, "horizon") == {"alice@example.org"}
    assert smtp.messages == []


# -- removing members ----------------------------------------------------------------------


def _remove(client, csrf_token, user_id, slug="horizon"):
    return client.post(
        f"/espace-partenaire/organisations/{slug}/membres/{user_id}/retirer",
        data={"csrf_token": csrf_token(client)},
    )


def test_member_removes_another_member(app, client, sign_in, csrf_token, world, smtp):
    _as(app, client, sign_in, world["alice"])
    _invite(client, csrf_token, email="bruno@example.org")
    assert (
        client.post(
            f"/espace-partenaire/organisations/horizon/membres/{world['bruno']}/retirer"
        ).status_code
        == 400
    )
    response = _remove(client, csrf_token, world["bruno"])
    assert response.status_code == 302
    assert _members(app, "horizon") == {"alice@example.org"}
    assert _members(app, "escale") == {"bruno@example.org"}  # other memberships untouched
    assert _remove(client, csrf_token, world["bruno"]).status_code == 404


def test_member_cannot_remove_the_last_member(app, client, sign_in, csrf_token, world):
    _as(app, client, sign_in, world["alice"])
    response = _remove(client, csrf_token, world["alice"])
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Impossible de retirer le dernier membre" in page
    assert _members(app, "horizon") == {"alice@example.org"}


def test_staff_may_remove_the_last_member(app, client, sign_in, csrf_token, world):
    _as(app, client, sign_in, world["curator"])
    response = _remove(client, csrf_token, world["bruno"], slug="escale")
    assert response.status_code == 302
    assert _members(app, "escale") == set()


def test_get_never_removes(app, client, sign_in, world):
    _as(app, client, sign_in, world["curator"])
    response = client.get(
        f"/espace-partenaire/organisations/escale/membres/{world['bruno']}/retirer"
    )
    assert response.status_code == 405
    assert _members(app, "escale") == {"bruno@example.org"}


def test_invitations_are_limited_per_inviting_account(app, client, sign_in, csrf_token, world):
    app.config["INVITATION_RATE_LIMIT"] = "2 per hour"
    _as(app, client, sign_in, world["alice"])
    for number in (1, 2):
        assert _invite(client, csrf_token, email=f"invite{number}@example.org").status_code == 302
    response = _invite(client, csrf_token, email="invite3@example.org")
    assert response.status_code == 429
    assert "beaucoup d’invitations" in response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "3600"
    assert "invite3@example.org" not in _members(app, "horizon")
    # Another inviting account has its own count.
    other = app.test_client()
    _as(app, other, sign_in, world["curator"])
    assert _invite(other, csrf_token, email="invite4@example.org").status_code == 302
