"""Sign-in, sign-out, sessions, rate limits, invitation and reset links, « Mon compte »."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from factories import TEST_PASSWORD, make_organisation, make_user
from flask import url_for

from directory import create_app
from directory.extensions import db
from directory.models import AuditLog, Role, User
from directory.services import accounts, tokens

WRONG = "Adresse électronique ou mot de passe incorrect."
NEW_PASSWORD = "une toute nouvelle phrase secrète"


@pytest.fixture
def member(app):
    with app.app_context():
        organisation = make_organisation(name="Association Horizon")
        user = make_user(organisation=organisation, email="membre@example.org", name="Camille")
        db.session.commit()
        return user.id


def _login(client, csrf_token, email="membre@example.org", password=TEST_PASSWORD, **extra):
    data = {"email": email, "password": password, "csrf_token": csrf_token(client)}
    data.update(extra)
    query = extra.pop("query", "")
    return client.post("/connexion" + query, data=data)


def _session_cookie(client) -> str | None:
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def _audit(app, action: str) -> list[AuditLog]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
            )
        )


def _user(app, user_id: int) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


# -- sign-in -------------------------------------------------------------------------------


def test_login_page_is_french_and_has_the_form(client):
    response = client.get("/connexion")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<title>Connexion — " in page
    assert 'name="csrf_token"' in page
    assert 'autocomplete="current-password"' in page
    assert "Se souvenir de moi" not in page  # sessions end: no remember-me (#13)


def test_successful_sign_in_opens_the_account_and_is_audited(app, client, csrf_token, member):
    response = _login(client, csrf_token)
    assert response.status_code == 302
    page = client.get("/compte")
    assert page.status_code == 200
    assert "membre@example.org" in page.get_data(as_text=True)
    logins = _audit(app, "auth.login")
    assert [row.user_id for row in logins] == [member]
    assert logins[0].ip_address == "127.0.0.1"
    assert _user(app, member).last_login_at is not None


def test_email_is_matched_whatever_its_case(client, csrf_token, member):
    response = _login(client, csrf_token, email="  MEMBRE@Example.ORG ")
    assert response.status_code == 302
    assert client.get("/compte").status_code == 200


def test_same_message_for_unknown_email_and_wrong_password(app, client, csrf_token, member):
    wrong_password = _login(client, csrf_token, password="pas le bon mot de passe")
    unknown = _login(client, csrf_token, email="personne@example.org")
    for response in (wrong_password, unknown):
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert WRONG in page
        assert "pas le bon mot de passe" not in page  # the password is never echoed
    assert client.get("/compte").status_code == 302
    failed = _audit(app, "auth.failed")
    assert [row.details["email"] for row in failed] == [
        "membre@example.org",
        "personne@example.org",
    ]
    assert failed[0].user_id == member and failed[1].user_id is None
    assert all(row.ip_address == "127.0.0.1" for row in failed)


def test_inactive_or_unactivated_accounts_cannot_sign_in(app, client, csrf_token):
    with app.app_context():
        make_user(email="ancien@example.org", active=False)
        make_user(email="invite@example.org", password_hash=None)
        db.session.commit()
    for email in ("ancien@example.org", "invite@example.org"):
        response = _login(client, csrf_token, email=email)
        assert WRONG in response.get_data(as_text=True)
    assert client.get("/compte").status_code == 302


def test_werkzeug_hash_is_accepted_and_upgraded(app, client, csrf_token):
    from werkzeug.security import generate_password_hash

    with app.app_context():
        user = make_user(
            email="ancien-hash@example.org",
            password_hash=generate_password_hash("ancienne phrase de passe", method="pbkdf2"),
        )
        db.session.commit()
        user_id = user.id
    response = _login(
        client, csrf_token, email="ancien-hash@example.org", password="ancienne phrase de passe"
    )
    assert response.status_code == 302
    assert _user(app, user_id).password_hash.startswith("$argon2id$")


def test_sign_in_starts_a_new_session(app, client, csrf_token, member):
    client.get("/connexion")
    token = csrf_token(client)
    anonymous = _session_cookie(client)
    with client.session_transaction() as stored:
        stored["left_over"] = "donnée de la session anonyme"
    response = client.post(
        "/connexion",
        data={"email": "membre@example.org", "password": TEST_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    signed_in = _session_cookie(client)
    assert signed_in and signed_in != anonymous
    with client.session_transaction() as stored:
        assert "left_over" not in stored
        assert stored["_user_id"].startswith(f"{member}:")
    # The anonymous cookie is no key to the account.
    other = app.test_client()
    other.set_cookie("session", anonymous)
    assert other.get("/compte").status_code == 302


def test_cookie_flags_in_tests(app, client, csrf_token, member):
    response = _login(client, csrf_token, remember="y")  # no such option: ignored
    cookies = response.headers.getlist("Set-Cookie")
    assert [c.partition("=")[0] for c in cookies] == ["session"]
    assert "HttpOnly" in cookies[0] and "SameSite=Lax" in cookies[0]
    assert "Expires=" not in cookies[0]  # gone when the browser closes


def test_cookies_are_secure_outside_tests(app, tmp_path):
    config = dict(app.config)
    production = create_app(
        {
            "INSTANCE_PATH": str(tmp_path / "production"),
            "DATABASE_URL": config["DATABASE_URL"],
            "SEARCH_INDEX_DIR": config["SEARCH_INDEX_DIR"],
            "SECRET_KEY": "clé de test",
            "PUBLIC_URL": "https://annuaire.example",
        }
    )
    assert not production.testing
    assert production.config["SESSION_COOKIE_SECURE"] is True
    assert production.config["SESSION_COOKIE_NAME"] == "__Host-session"
    with production.app_context():
        make_user(email="prod@example.org")
        db.session.commit()
    client = production.test_client()
    page = client.get("/connexion", base_url="https://annuaire.example")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    response = client.post(
        "/connexion",
        data={
            "email": "prod@example.org",
            "password": TEST_PASSWORD,
            "csrf_token": token,
        },
        base_url="https://annuaire.example",
        headers={"Referer": "https://annuaire.example/connexion"},
    )
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    assert cookies
    for cookie in cookies:
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    with production.app_context():
        db.session.remove()
        db.engine.dispose()


def test_login_without_csrf_token_is_refused(client, member):
    response = client.post(
        "/connexion", data={"email": "membre@example.org", "password": TEST_PASSWORD}
    )
    assert response.status_code == 400
    assert client.get("/compte").status_code == 302


@pytest.mark.parametrize(
    "fields",
    [
        {"email": "a" * 100_000 + "@example.org"},
        {"email": "membre@example.org\x00"},
        {"email": "<script>alert(1)</script>"},
        {"password": "x" * 5000},
        {"password": "abc\x00def"},
        {"email": ""},
        {"password": ""},
    ],
)
def test_hostile_input_gives_a_form_error(client, csrf_token, member, fields):
    response = _login(client, csrf_token, **fields)
    assert response.status_code in (200, 400)
    page = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert client.get("/compte").status_code == 302


# -- where to go after sign-in -------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/",
        "http:evil.example",
        "\\\\evil.example",
        "/\\evil.example",
        "/\r\nLocation: https://evil.example",
        "/\u2028evil",
        "javascript:alert(1)",
        "evil.example",
        "/\tevil",
    ],
)
def test_next_parameter_cannot_leave_the_site(client, csrf_token, member, target):
    response = client.post(
        "/connexion",
        query_string={"next": target},
        data={
            "email": "membre@example.org",
            "password": TEST_PASSWORD,
            "csrf_token": csrf_token(client),
        },
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "evil" not in location
    assert location.startswith("/")
    assert not location.startswith("//")


def test_percent_encoded_next_stays_a_path_of_the_site(client, csrf_token, member):
    response = client.post(
        "/connexion",
        query_string={"next": "/%0d%0aLocation:%20https://evil.example"},
        data={
            "email": "membre@example.org",
            "password": TEST_PASSWORD,
            "csrf_token": csrf_token(client),
        },
    )
    location = urlsplit(response.headers["Location"])
    assert not location.scheme and not location.netloc
    assert "\n" not in response.headers["Location"]


def test_next_parameter_inside_the_site_is_followed(client, csrf_token, member):
    response = client.post(
        "/connexion",
        query_string={"next": "/compte?onglet=1"},
        data={
            "email": "membre@example.org",
            "password": TEST_PASSWORD,
            "csrf_token": csrf_token(client),
        },
    )
    assert response.headers["Location"] == "/compte?onglet=1"


def test_private_page_sends_anonymous_people_to_sign_in_and_back(client, csrf_token, member):
    response = client.get("/compte")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion?next=")
    login_page = client.get(response.headers["Location"])
    assert 'action="/connexion?next=/compte"' in login_page.get_data(as_text=True)


# -- sign-out and sessions -----------------------------------------------------------------


def test_sign_out_kills_every_session_and_copied_cookie(app, client, csrf_token, member):
    _login(client, csrf_token)
    copied = _session_cookie(client)
    second = app.test_client()
    _login(second, csrf_token)
    assert second.get("/compte").status_code == 200
    # A third device holding a copy of the first one's session cookie.
    third = app.test_client()
    third.set_cookie("session", copied)
    assert third.get("/compte").status_code == 200

    response = client.post("/deconnexion", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert client.get("/compte").status_code == 302
    assert second.get("/compte").status_code == 302
    assert third.get("/compte").status_code == 302
    assert [row.user_id for row in _audit(app, "auth.logout")] == [member]


def test_sign_out_needs_post_and_csrf(client, csrf_token, member):
    _login(client, csrf_token)
    assert client.get("/deconnexion").status_code == 405
    assert client.post("/deconnexion").status_code == 400
    assert client.get("/compte").status_code == 200


def test_header_shows_the_account_and_sign_out(client, csrf_token, member):
    assert "Se connecter" in client.get("/connexion").get_data(as_text=True)
    _login(client, csrf_token)
    page = client.get("/compte").get_data(as_text=True)
    assert "Camille" in page
    assert 'action="/deconnexion"' in page


# -- rate limits ---------------------------------------------------------------------------


def test_too_many_attempts_on_one_account_get_429(app, client, csrf_token, member):
    for _ in range(5):
        assert _login(client, csrf_token, password="mauvais mot de passe").status_code == 200
    response = _login(client, csrf_token)  # even the right password is not tried now
    assert response.status_code == 429
    assert "Trop de tentatives" in response.get_data(as_text=True)
    assert response.headers["Retry-After"]
    assert client.get("/compte").status_code == 302
    assert len(_audit(app, "auth.failed")) == 5
    assert _login(client, csrf_token).status_code == 429
    limited = _audit(app, "auth.limited")  # once a minute, however many refused attempts
    assert len(limited) == 1 and limited[0].details["email"] == "membre@example.org"
    assert limited[0].user_id == member
    # Another account from another address is not affected.
    with app.app_context():
        make_user(email="autre@example.org")
        db.session.commit()
    other = app.test_client()
    response = other.post(
        "/connexion",
        data={
            "email": "autre@example.org",
            "password": TEST_PASSWORD,
            "csrf_token": csrf_token(other),
        },
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )
    assert response.status_code == 302


def test_too_many_attempts_from_one_address_get_429(app, client, csrf_token):
    app.config["AUTH_RATE_LIMIT_PER_ADDRESS"] = "3 per hour"
    for number in range(3):
        assert _login(client, csrf_token, email=f"x{number}@example.org").status_code == 200
    assert _login(client, csrf_token, email="x9@example.org").status_code == 429


# -- « Mon compte » --------------------------------------------------------------------------


def test_password_change_ends_other_sessions(app, client, csrf_token, member):
    _login(client, csrf_token)
    other = app.test_client()
    _login(other, csrf_token)
    copied = _session_cookie(other)
    response = client.post(
        "/compte/mot-de-passe",
        data={
            "current": TEST_PASSWORD,
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "csrf_token": csrf_token(client),
        },
    )
    assert response.status_code == 302
    assert client.get("/compte").status_code == 200  # this device goes on
    assert other.get("/compte").status_code == 302
    third = app.test_client()
    third.set_cookie("session", copied)
    assert third.get("/compte").status_code == 302
    with app.app_context():
        user = db.session.get(User, member)
        assert accounts.verify_password(user, NEW_PASSWORD)


def test_password_change_needs_the_current_password(app, client, csrf_token, member):
    _login(client, csrf_token)
    response = client.post(
        "/compte/mot-de-passe",
        data={
            "current": "pas le bon",
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "csrf_token": csrf_token(client),
        },
    )
    assert response.status_code == 200
    assert "Le mot de passe actuel est incorrect." in response.get_data(as_text=True)
    with app.app_context():
        assert accounts.verify_password(db.session.get(User, member), TEST_PASSWORD)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("court", "au moins 10 caractères"),
        ("1234567890", "plus courants"),
        ("PassWord123", "plus courants"),
        ("x" * 1025, "1024 caractères"),
    ],
)
def test_weak_new_passwords_are_refused(app, client, csrf_token, member, password, message):
    _login(client, csrf_token)
    response = client.post(
        "/compte/mot-de-passe",
        data={
            "current": TEST_PASSWORD,
            "password": password,
            "confirm": password,
            "csrf_token": csrf_token(client),
        },
    )
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert accounts.verify_password(db.session.get(User, member), TEST_PASSWORD)


def test_long_password_is_accepted_whole(app, client, csrf_token, member):
    long_password = "une très longue phrase de passe " * 30  # 960 characters
    _login(client, csrf_token)
    response = client.post(
        "/compte/mot-de-passe",
        data={
            "current": TEST_PASSWORD,
            "password": long_password,
            "confirm": long_password,
            "csrf_token": csrf_token(client),
        },
    )
    assert response.status_code == 302
    with app.app_context():
        user = db.session.get(User, member)
        assert accounts.verify_password(user, long_password)
        assert not accounts.verify_password(user, long_password[:-1])


def test_sign_out_everywhere(app, client, csrf_token, member):
    _login(client, csrf_token)
    other = app.test_client()
    _login(other, csrf_token)
    assert client.post("/compte/deconnexion-partout").status_code == 400
    response = client.post("/compte/deconnexion-partout", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert client.get("/compte").status_code == 302
    assert other.get("/compte").status_code == 302


# -- password reset ------------------------------------------------------------------------


def _outbox(app) -> list[str]:
    from pathlib import Path

    folder = Path(app.instance_path) / "outbox"
    return [p.read_text() for p in sorted(folder.glob("*.eml"))] if folder.exists() else []


def _link(text: str, path: str) -> str:
    unfolded = text.replace("=\n", "")
    match = re.search(r"https?://[^/\s]+(" + re.escape(path) + r"[A-Za-z0-9_.\-]+)", unfolded)
    assert match, text
    return match.group(1)


def test_reset_request_answers_the_same_whether_the_account_exists(app, client, csrf_token, member):
    known = client.post(
        "/mot-de-passe-oublie",
        data={"email": "membre@example.org", "csrf_token": csrf_token(client)},
    )
    unknown = client.post(
        "/mot-de-passe-oublie",
        data={"email": "inconnu@example.org", "csrf_token": csrf_token(client)},
    )
    assert known.status_code == unknown.status_code == 200
    assert known.get_data(as_text=True) == unknown.get_data(as_text=True).replace(
        "inconnu@example.org", "membre@example.org"
    )
    mails = _outbox(app)
    assert len(mails) == 1 and "membre@example.org" in mails[0]


def test_reset_flow_through_the_outbox(app, client, csrf_token, member):
    other = app.test_client()
    _login(other, csrf_token)
    client.post(
        "/mot-de-passe-oublie",
        data={"email": "membre@example.org", "csrf_token": csrf_token(client)},
    )
    (mail,) = _outbox(app)
    path = _link(mail, "/reinitialiser/")
    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"
    mismatch = client.post(
        path,
        data={
            "password": NEW_PASSWORD,
            "confirm": "autre chose encore",
            "csrf_token": csrf_token(client),
        },
    )
    assert "ne sont pas identiques" in mismatch.get_data(as_text=True)
    response = client.post(
        path,
        data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 302
    assert client.get("/compte").status_code == 200
    assert other.get("/compte").status_code == 302  # other sessions ended
    # The link works once.
    again = app.test_client().get(path)
    assert again.status_code == 410
    assert "déjà été utilisé" in again.get_data(as_text=True)
    with app.app_context():
        assert accounts.verify_password(db.session.get(User, member), NEW_PASSWORD)


def test_forged_and_expired_links_give_a_clear_page(app, client, member):
    assert client.get("/reinitialiser/nimporte-quoi").status_code == 400
    assert client.get("/reinitialiser/" + "a" * 5000).status_code == 400
    with app.test_request_context():
        user = db.session.get(User, member)
        reset = tokens.make_token(user, tokens.Purpose.PASSWORD_RESET)
        invitation = tokens.make_token(user, tokens.Purpose.INVITATION)
    # A token of one purpose is useless for the other.
    assert client.get(f"/reinitialiser/{invitation}").status_code == 400
    assert client.get(f"/invitation/{reset}").status_code == 400
    app.config["PASSWORD_RESET_MAX_AGE"] = -1
    response = client.get(f"/reinitialiser/{reset}")
    assert response.status_code == 410
    assert "Ce lien a expiré." in response.get_data(as_text=True)


def test_reset_requests_are_rate_limited(app, client, csrf_token, member):
    for _ in range(3):
        response = client.post(
            "/mot-de-passe-oublie",
            data={"email": "membre@example.org", "csrf_token": csrf_token(client)},
        )
        assert response.status_code == 200
    response = client.post(
        "/mot-de-passe-oublie",
        data={"email": "membre@example.org", "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 429
    assert len(_outbox(app)) == 3


def test_reset_request_without_csrf_is_refused(app, client, member):
    response = client.post("/mot-de-passe-oublie", data={"email": "membre@example.org"})
    assert response.status_code == 400
    assert _outbox(app) == []


def test_role_of_the_account_is_shown(app, client, csrf_token):
    with app.app_context():
        make_user(email="curateur@example.org", role=Role.CURATOR, name="Dominique")
        db.session.commit()
    response = _login(client, csrf_token, email="curateur@example.org")
    if "staff.index" in app.view_functions:
        with app.test_request_context():
            assert response.headers["Location"] == url_for("staff.index")
    page = client.get("/compte").get_data(as_text=True)
    assert "Chargé·e de mission" in page
    assert 'href="/gestion/comptes"' in page
