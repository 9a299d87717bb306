"""Threat: a partner learns which addresses have an account by inviting them.

Any member of an organisation may invite people to it. The answer used to say « fait
désormais partie des membres » for an address with an account and « Invitation envoyée »
for a new one, and the members list then showed the existing account's own name and state.
Now the answer, and the page it leads to, are the same whatever the address (new, existing,
deactivated), for a partner as for staff; the existing account's owner is told by mail, and
no second account is made.
"""

from __future__ import annotations

import email
import re
from email import policy
from pathlib import Path

import pytest
import sqlalchemy as sa
from factories import make_organisation, make_user

from directory.extensions import db
from directory.models import Role, User

NEW = "nouvelle@example.org"
EXISTING = "bruno.durand@example.org"
DEACTIVATED = "ancienne@example.org"
SLUG = "horizon"


@pytest.fixture
def world(app):
    with app.app_context():
        horizon = make_organisation(name="Association Horizon", slug=SLUG)
        escale = make_organisation(name="L’Escale", slug="escale")
        alice = make_user(organisation=horizon, email="alice@example.org", name="Alice Martin")
        make_user(organisation=escale, email=EXISTING, name="Bruno Durand")
        make_user(email=DEACTIVATED, name="Danielle Ancienne", active=False)
        curator = make_user(email="curatrice@example.org", role=Role.CURATOR, name="Claire")
        db.session.commit()
        return {"partner": alice.id, "staff": curator.id}


def _normalised(page: str, address: str) -> str:
    """The page without what legitimately differs: CSRF tokens, the address typed, the id
    of the account in the « retirer » button."""
    page = re.sub(r'name="csrf_token"[^>]*value="[^"]*"', 'name="csrf_token"', page)
    page = re.sub(r'value="[^"]*"(?=[^>]*name="csrf_token")', "", page)
    page = re.sub(r"/membres/\d+/retirer", "/membres/N/retirer", page)
    return page.replace(address, "ADRESSE")


def _invite_and_look(client, csrf_token, address: str) -> tuple[int, str, str]:
    response = client.post(
        f"/espace-partenaire/organisations/{SLUG}/membres/inviter",
        data={"email": address, "name": "", "csrf_token": csrf_token(client)},
    )
    location = response.headers.get("Location", "")
    page = client.get(location).get_data(as_text=True) if location else response.text
    return response.status_code, location, _normalised(page, address)


def _remove(app, client, csrf_token, address: str) -> None:
    with app.app_context():
        user_id = db.session.scalar(sa.select(User.id).where(User.email == address))
    response = client.post(
        f"/espace-partenaire/organisations/{SLUG}/membres/{user_id}/retirer",
        data={"csrf_token": csrf_token(client)},
    )
    assert response.status_code == 302
    client.get(response.headers["Location"])  # reads the « retiré » message


def _outbox(app) -> list[email.message.EmailMessage]:
    folder = Path(app.instance_path) / "outbox"
    return [
        email.message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in sorted(folder.glob("*.eml"))
    ]


@pytest.mark.parametrize("inviter", ["partner", "staff"])
def test_the_invitation_answer_is_the_same_whatever_the_address(
    app, client, sign_in, csrf_token, world, inviter
):
    with app.app_context():
        sign_in(client, db.session.get(User, world[inviter]))
    answers = {}
    for address in (NEW, EXISTING, DEACTIVATED):
        answers[address] = _invite_and_look(client, csrf_token, address)
        _remove(app, client, csrf_token, address)  # the next one starts from the same list

    status, _location, page = answers[NEW]
    assert status == 302
    assert "Invitation envoyée à ADRESSE" in page
    assert "Invitation en attente" in page
    assert answers[EXISTING] == answers[NEW]
    assert answers[DEACTIVATED] == answers[NEW]
    for name in ("Bruno Durand", "Danielle Ancienne", "Désactivé"):
        assert name not in page


def test_the_existing_account_owner_is_told_by_mail_and_no_second_account_is_made(
    app, client, sign_in, csrf_token, world
):
    with app.app_context():
        sign_in(client, db.session.get(User, world["partner"]))
    _invite_and_look(client, csrf_token, EXISTING)
    _invite_and_look(client, csrf_token, NEW)

    mails = {message["To"]: message for message in _outbox(app)}
    notice = mails[EXISTING].get_content()
    assert "Vous avez déjà un compte avec cette adresse" in notice
    assert "/connexion" in notice and "/mot-de-passe-oublie" in notice
    assert "/invitation/" not in notice  # nothing to activate: the password stays theirs
    assert "/invitation/" in mails[NEW].get_content()
    with app.app_context():
        count = db.session.scalar(
            sa.select(sa.func.count()).select_from(User).where(User.email == EXISTING)
        )
        assert count == 1
        assert db.session.scalar(sa.select(User).where(User.email == EXISTING)).password_hash


def test_a_deactivated_account_is_told_whom_to_ask(app, client, sign_in, csrf_token, world):
    with app.app_context():
        sign_in(client, db.session.get(User, world["partner"]))
    _invite_and_look(client, csrf_token, DEACTIVATED)
    (message,) = _outbox(app)
    assert message["To"] == DEACTIVATED
    assert "désactivé" in message.get_content() and "DRJSCS" in message.get_content()
    with app.app_context():
        assert not db.session.scalar(sa.select(User).where(User.email == DEACTIVATED)).active


def test_a_pending_member_shows_its_name_once_signed_in(app, client, sign_in, csrf_token, world):
    with app.app_context():
        sign_in(client, db.session.get(User, world["partner"]))
    _invite_and_look(client, csrf_token, EXISTING)
    page = client.get(f"/espace-partenaire/organisations/{SLUG}/membres").get_data(as_text=True)
    assert "Bruno Durand" not in page
    bruno = app.test_client()
    response = bruno.post(
        "/connexion",
        data={
            "email": EXISTING,
            "password": "phrase de passe des tests",
            "csrf_token": csrf_token(bruno),
        },
    )
    assert response.status_code == 302
    page = client.get(f"/espace-partenaire/organisations/{SLUG}/membres").get_data(as_text=True)
    assert "Bruno Durand" in page
