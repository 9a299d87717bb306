"""Threat: session cookies sent in clear, and the trap that protecting them set for operators.

Over plain http anyone on the network reads the session cookie and takes over the session, so
production cookies are ``Secure`` (and named ``__Host-``: only this host, path ``/``, never set
over http). A browser then never sends that cookie back to a plain-http page on another
machine, so signing in on a LAN trial failed with a bare « Requête invalide » (the CSRF token
lives in the session). Now the sign-in page says in French that HTTPS is required and how to
allow plain http for a trial (``SESSION_COOKIE_SECURE=0``), for GET and POST alike; with that
setting sign-in works over http.
"""

from __future__ import annotations

import re

import pytest
from factories import TEST_PASSWORD, make_user

from directory import create_app
from directory.extensions import db

LAN = "http://192.0.2.10"
EMAIL = "essai@example.org"


@pytest.fixture
def make_app(databases, tmp_path):
    """Apps on one seeded database, served as ``http://192.0.2.10`` (a LAN address)."""
    url = databases.seeded()
    apps = []

    def _make(**config):
        app = create_app(
            {
                "TESTING": True,
                "INSTANCE_PATH": str(tmp_path / f"instance{len(apps)}"),
                "DATABASE_URL": url,
                "SEARCH_INDEX_DIR": str(tmp_path / "search-index"),
                "SECRET_KEY": "test-secret-key-not-for-production",
                "PUBLIC_URL": LAN,
                **config,
            }
        )
        if not apps:
            with app.app_context():
                make_user(email=EMAIL)
                db.session.commit()
        apps.append(app)
        return app

    yield _make
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _token(page) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)


def _assert_explains_https(response) -> None:
    text = response.get_data(as_text=True)
    assert "La connexion demande une adresse en HTTPS" in text
    assert "SESSION_COOKIE_SECURE=0" in text
    assert "docs/deploiement.md" in text
    assert 'href="https://192.0.2.10/connexion"' in text
    assert "Requête invalide" not in text
    assert 'name="password"' not in text  # no form that cannot work


def test_sign_in_page_over_plain_http_explains_that_https_is_required(make_app):
    client = make_app(SESSION_COOKIE_SECURE=True).test_client()
    response = client.get("/connexion", base_url=LAN)
    assert response.status_code == 200
    _assert_explains_https(response)


def test_sign_in_attempt_over_plain_http_gets_the_explanation(make_app):
    app = make_app(SESSION_COOKIE_SECURE=True)
    # A form posted over plain http by a browser that (rightly) does not send the Secure
    # session cookie there: the CSRF check fails.
    token = _token(app.test_client().get("/connexion", base_url="https://192.0.2.10"))
    data = {"email": EMAIL, "password": TEST_PASSWORD, "csrf_token": token}
    response = app.test_client().post("/connexion", data=data, base_url=LAN)
    assert response.status_code == 400
    _assert_explains_https(response)
    # Even a client that sends the cookie back over http is not signed in there.
    kept = app.test_client()
    token = _token(kept.get("/connexion", base_url="https://192.0.2.10"))
    data["csrf_token"] = token
    response = kept.post("/connexion", data=data, base_url=LAN)
    assert response.status_code == 400
    _assert_explains_https(response)
    assert kept.get("/compte", base_url="https://192.0.2.10").status_code == 302


def test_https_sign_in_uses_a_host_only_secure_cookie_and_csrf_holds(make_app):
    app = make_app(SESSION_COOKIE_SECURE=True)
    assert app.config["SESSION_COOKIE_NAME"] == "__Host-session"
    client = app.test_client()
    https = "https://192.0.2.10"
    page = client.get("/connexion", base_url=https)
    assert "La connexion demande une adresse en HTTPS" not in page.get_data(as_text=True)
    data = {"email": EMAIL, "password": TEST_PASSWORD}
    headers = {"Referer": f"{https}/connexion"}
    refused = client.post("/connexion", data=data, base_url=https, headers=headers)
    assert refused.status_code == 400  # CSRF still required
    response = client.post(
        "/connexion", data={**data, "csrf_token": _token(page)}, base_url=https, headers=headers
    )
    assert response.status_code == 302
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("__Host-"))
    attributes = [part.strip().lower() for part in cookie.split(";")[1:]]
    assert "secure" in attributes and "path=/" in attributes
    assert not any(part.startswith("domain=") for part in attributes)
    assert client.get("/compte", base_url=https).status_code == 200


def test_plain_http_trial_signs_in_with_secure_cookies_off(make_app):
    app = make_app(SESSION_COOKIE_SECURE=False)
    assert app.config["SESSION_COOKIE_NAME"] == "session"
    client = app.test_client()
    page = client.get("/connexion", base_url=LAN)
    assert "La connexion demande une adresse en HTTPS" not in page.get_data(as_text=True)
    response = client.post(
        "/connexion",
        data={"email": EMAIL, "password": TEST_PASSWORD, "csrf_token": _token(page)},
        base_url=LAN,
    )
    assert response.status_code == 302
    assert all("Secure" not in c for c in response.headers.getlist("Set-Cookie"))
    assert client.get("/compte", base_url=LAN).status_code == 200


def test_loopback_http_keeps_the_form(make_app):
    """Browsers send Secure cookies to http://localhost: a developer signs in as before."""
    client = make_app(SESSION_COOKIE_SECURE=True, PUBLIC_URL="http://localhost").test_client()
    page = client.get("/connexion", base_url="http://localhost")
    assert page.status_code == 200
    assert 'name="password"' in page.get_data(as_text=True)
