"""Threat: a signed-in session that never ends.

A session left open on a shared office computer, or a session cookie copied from a browser
(malware, a backup, a borrowed laptop), kept its owner's rights as long as the cookie lived:
31 days, re-signed on every use, with no idle timeout; a 30-day remember-me cookie could bring
the session back even after that. Now every signed-in session ends after
``SESSION_IDLE_TIMEOUT`` seconds without a request and ``SESSION_MAX_AGE`` seconds after
sign-in, checked by the server on the times signed into the cookie, and no remember-me cookie
signs anyone in.
"""

from __future__ import annotations

import re
import time

import pytest
from factories import TEST_PASSWORD, make_organisation, make_user
from flask_login.utils import encode_cookie

from directory import create_app
from directory.extensions import db
from directory.models import User
from directory.web.sessions import EXPIRED_MESSAGE, OPENED_AT, SEEN_AT

EMAIL = "membre@example.org"


@pytest.fixture
def member(app):
    with app.app_context():
        user = make_user(organisation=make_organisation(), email=EMAIL)
        db.session.commit()
        return user.id


def _sign_in(client, csrf_token):
    response = client.post(
        "/connexion",
        data={"email": EMAIL, "password": TEST_PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 302
    return response


def _time_passes(client, seconds: int) -> None:
    """As if ``seconds`` went by: the times signed into the session move back."""
    with client.session_transaction() as stored:
        stored[OPENED_AT] -= seconds
        stored[SEEN_AT] -= seconds


def _stored(client) -> dict:
    with client.session_transaction() as stored:
        return dict(stored)


def _assert_sent_to_sign_in(client, response) -> None:
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/connexion?next=")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert EXPIRED_MESSAGE in page
    assert "_user_id" not in _stored(client)


def test_sign_in_through_the_form_stamps_the_session(app, client, csrf_token, member):
    before = int(time.time())
    _sign_in(client, csrf_token)
    stored = _stored(client)
    assert before <= stored[OPENED_AT] == stored[SEEN_AT] <= time.time()
    assert client.get("/compte").status_code == 200


def test_idle_session_is_refused_on_its_next_request(app, client, csrf_token, member):
    _sign_in(client, csrf_token)
    _time_passes(client, app.config["SESSION_IDLE_TIMEOUT"])
    _assert_sent_to_sign_in(client, client.get("/compte"))
    assert client.get("/compte").status_code == 302  # not signed in again


def test_session_used_within_the_idle_timeout_goes_on(app, client, csrf_token, member):
    _sign_in(client, csrf_token)
    _time_passes(client, app.config["SESSION_IDLE_TIMEOUT"] - 90)
    assert client.get("/compte").status_code == 200
    # The request counted as use: the idle clock starts again.
    assert time.time() - _stored(client)[SEEN_AT] < 60


def test_last_use_is_rewritten_at_most_once_a_minute(app, client, csrf_token, member):
    _sign_in(client, csrf_token)
    client.get("/compte")  # shows (and so removes) the welcome message
    quiet = client.get("/compte")
    assert quiet.status_code == 200
    assert "Set-Cookie" not in quiet.headers  # the cookie is not re-issued on every request
    _time_passes(client, 61)
    later = client.get("/compte")
    assert later.status_code == 200
    assert "Set-Cookie" in later.headers
    assert time.time() - _stored(client)[SEEN_AT] < 60


def test_session_older_than_max_age_is_refused_even_if_used_every_minute(
    app, client, csrf_token, member
):
    app.config["SESSION_MAX_AGE"] = 10 * 60
    _sign_in(client, csrf_token)
    for minute in range(1, 10):
        _time_passes(client, 60)
        assert client.get("/compte").status_code == 200, minute
    _time_passes(client, 60)
    _assert_sent_to_sign_in(client, client.get("/compte"))


def test_replayed_copy_of_a_cookie_is_refused_after_its_max_age(app, client, csrf_token, member):
    app.config["SESSION_MAX_AGE"] = 2
    _sign_in(client, csrf_token)
    copied = client.get_cookie("session").value
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/compte").status_code == 200  # a fresh copy works, as it always did
    time.sleep(2.1)
    # Replayed later, the copy still carries its signed opening time: refused.
    thief = app.test_client()
    thief.set_cookie("session", copied)
    _assert_sent_to_sign_in(thief, thief.get("/compte"))
    assert client.get("/compte").status_code == 302


def test_session_without_signed_times_is_refused(app, client, member):
    """A cookie from before this change (or made without the sign-in form) has no times."""
    with app.app_context():
        login_id = db.session.get(User, member).get_id()
    with client.session_transaction() as stored:
        stored["_user_id"] = login_id
        stored["_fresh"] = True
    _assert_sent_to_sign_in(client, client.get("/compte"))


def test_expired_session_on_a_public_page_goes_on_anonymously(app, client, csrf_token, member):
    _sign_in(client, csrf_token)
    client.get("/compte")
    _time_passes(client, app.config["SESSION_MAX_AGE"])
    response = client.get("/initiatives")
    assert response.status_code == 200
    assert 'action="/deconnexion"' not in response.get_data(as_text=True)
    assert "_user_id" not in _stored(client)


# -- remember me ---------------------------------------------------------------------------


def _remember_cookie(app, user_id: int) -> str:
    """The remember-me cookie Flask-Login set for an account (earlier versions offered it)."""
    with app.test_request_context():
        return encode_cookie(db.session.get(User, user_id).get_id())


def test_no_remember_me_cookie_is_issued(client, csrf_token, member):
    page = client.get("/connexion").get_data(as_text=True)
    assert 'name="remember"' not in page
    response = client.post(
        "/connexion",
        data={
            "email": EMAIL,
            "password": TEST_PASSWORD,
            "remember": "y",
            "csrf_token": csrf_token(client),
        },
    )
    assert response.status_code == 302
    assert client.get_cookie("remember_token") is None


def test_remember_me_cookie_does_not_sign_in(app, client, member):
    client.set_cookie("remember_token", _remember_cookie(app, member))
    response = client.get("/compte")
    assert response.status_code == 302 and response.headers["Location"].startswith("/connexion")
    assert "_user_id" not in _stored(client)
    assert client.get_cookie("remember_token") is None  # deleted with the answer


def test_remember_me_cookie_does_not_revive_an_expired_session(app, client, csrf_token, member):
    _sign_in(client, csrf_token)
    client.set_cookie("remember_token", _remember_cookie(app, member))
    _time_passes(client, app.config["SESSION_IDLE_TIMEOUT"])
    _assert_sent_to_sign_in(client, client.get("/compte"))
    assert client.get("/compte").status_code == 302
    assert client.get_cookie("remember_token") is None


# -- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["SESSION_IDLE_TIMEOUT", "SESSION_MAX_AGE"])
def test_limits_cannot_be_switched_off_by_mistake(app, tmp_path, key):
    config = {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "other"),
        "DATABASE_URL": app.config["DATABASE_URL"],
        "SEARCH_INDEX_DIR": app.config["SEARCH_INDEX_DIR"],
        "SECRET_KEY": "clé de test",
        key: "0",
    }
    with pytest.raises(ValueError, match=re.escape(key)):
        create_app(config)
