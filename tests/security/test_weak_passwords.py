"""Threat: guessing a partner's password from a short list of common French passwords.

An attacker who knows (or guesses) an address tries « motdepasse123 », « marseille2024 »,
« azertyuiop »… The bundled list of common passwords has few entries of ten characters or
more, so these were accepted. Passwords are now judged by zxcvbn with French words, places,
the site's words and the account's own address and name; each refusal says why, in French,
on every form that sets a password, and the rule is shown under the field.
"""

from __future__ import annotations

import html

import pytest
import sqlalchemy as sa
from factories import TEST_PASSWORD, make_user

from directory.extensions import db
from directory.models import User
from directory.services import accounts, tokens
from directory.services.accounts import AccountError

FRENCH_COMMON = [
    "motdepasse123",
    "marseille2024",
    "jetaime123456",
    "azertyuiop",
    "soleil123456",
    "bonjour12345",
    "123456789azerty",
    "Provence2011!",
    "annuaire-drjscs",
    "doudou123456",
    "chouchou2012",
    "Nicolas1985",
    "toulouse31000",
    "P@ssw0rd2024",
    "qsdfghjklm",
    "Aixenprovence13",
]
STRONG = [
    "girafe violon nuage tartine",
    "Tr0mbone-Lilas-Gare-1987",
    "correct cheval agrafe batterie",
    "kT9#mQ2!xzR",
]
RULE = "difficile à deviner"


@pytest.mark.parametrize("password", FRENCH_COMMON)
def test_common_french_passwords_are_refused(password):
    assert len(password) >= accounts.MIN_PASSWORD_LENGTH  # the length rule alone let them in
    with pytest.raises(AccountError, match="Ce mot de passe est trop facile à deviner : "):
        accounts.check_password_strength(password, email="camille@example.org", name="Camille")


@pytest.mark.parametrize("password", STRONG)
def test_strong_passwords_are_accepted(password):
    accounts.check_password_strength(password, email="camille@example.org", name="Camille")


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("bonjour12345", "il ressemble à un mot courant suivi de chiffres"),
        ("azertyuiop", "il fait partie des mots de passe les plus utilisés"),
        ("qsdfghjklm", "touches voisines sur le clavier"),
        ("abababababab", "répète"),
        ("P@ssw0rd2024", "remplacées par des chiffres ou des signes"),
        ("annuaire-drjscs", "un mot lié à l’annuaire"),
        ("JeanneMartin2024", "votre nom ou votre adresse"),
        ("jeanne.martin75", "votre nom ou votre adresse"),
    ],
)
def test_the_message_says_why_in_french(password, reason):
    with pytest.raises(AccountError) as refused:
        accounts.check_password_strength(
            password, email="jeanne.martin@example.org", name="Jeanne Martin"
        )
    message = str(refused.value)
    assert reason in message
    assert "Choisissez plutôt une phrase de plusieurs mots sans lien entre eux" in message


def test_the_account_s_own_name_is_refused_only_for_that_account():
    accounts.check_password_strength("Gaspard Ribeyrolles", email="x@example.org", name="Léa")
    with pytest.raises(AccountError, match="votre nom"):
        accounts.check_password_strength(
            "Gaspard Ribeyrolles", email="x@example.org", name="Gaspard Ribeyrolles"
        )


def test_the_length_rules_still_hold():
    with pytest.raises(AccountError, match="au moins 10"):
        accounts.check_password_strength("kT9#mQ2!")
    with pytest.raises(AccountError, match="1024"):
        accounts.check_password_strength("girafe violon nuage tartine " * 40)


# -- through the forms ---------------------------------------------------------------------


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def person(app):
    with app.app_context():
        user = make_user(email="jeanne.martin@example.org", name="Jeanne Martin")
        db.session.commit()
        return user.id


def _link(app, user_id: int, purpose: tokens.Purpose) -> str:
    with app.test_request_context():
        user = db.session.get(User, user_id)
        token = tokens.make_token(user, purpose)
    prefix = "/invitation/" if purpose == tokens.Purpose.INVITATION else "/reinitialiser/"
    return prefix + token


def _unchanged(app, user_id: int, password_hash: str | None) -> bool:
    with app.app_context():
        return db.session.get(User, user_id).password_hash == password_hash


@pytest.mark.parametrize("purpose", [tokens.Purpose.INVITATION, tokens.Purpose.PASSWORD_RESET])
@pytest.mark.parametrize("password", ["marseille2024", "JeanneMartin1990"])
def test_set_password_form_refuses_weak_passwords(
    app, client, csrf_token, person, purpose, password
):
    with app.app_context():
        user = db.session.get(User, person)
        if purpose == tokens.Purpose.INVITATION:
            user.password_hash = None  # an invited account has not chosen one yet
            db.session.commit()
        before = user.password_hash
    link = _link(app, person, purpose)
    page = _text(client.get(link))
    assert RULE in page  # the rule is under the field before anything is typed
    response = client.post(
        link, data={"password": password, "confirm": password, "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 200
    assert "Ce mot de passe est trop facile à deviner" in _text(response)
    assert _unchanged(app, person, before)
    # The same link still works with a strong password.
    strong = "girafe violon nuage tartine"
    response = client.post(
        link, data={"password": strong, "confirm": strong, "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 302


def test_change_password_form_refuses_weak_passwords(app, client, sign_in, csrf_token, person):
    with app.app_context():
        sign_in(client, db.session.get(User, person))
        before = db.session.get(User, person).password_hash
    assert RULE in _text(client.get("/compte"))
    for weak in ("soleil123456", "jeanne.martin2024"):
        response = client.post(
            "/compte/mot-de-passe",
            data={
                "current": TEST_PASSWORD,
                "password": weak,
                "confirm": weak,
                "csrf_token": csrf_token(client),
            },
        )
        assert response.status_code == 200
        assert "Ce mot de passe est trop facile à deviner" in _text(response)
        assert _unchanged(app, person, before)


def test_command_line_accounts_follow_the_same_rule(app, runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "admin@example.org",
            "--role",
            "admin",
            "--password-stdin",
        ],
        input="azertyuiop123\n",
    )
    assert result.exit_code != 0
    assert "trop facile à deviner" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(User).filter_by(email="admin@example.org")) is None
