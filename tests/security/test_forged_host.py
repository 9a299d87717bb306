"""Threat: a forged ``Host`` or ``X-Forwarded-Host`` header puts the attacker's address in links.

The links used to be built from the request's host: an attacker asking a password reset for
someone else's address with ``Host: evil.example`` had a link to evil.example, carrying the
victim's token, mailed to the victim; with ``PROXY_COUNT`` set, ``X-Forwarded-Host`` did the
same through the proxy. The same forged host was echoed by the API (``api_url``, ``links``),
the Atom feeds, the embed snippets of ``/carte`` and written into cached open-data files.

Each test sends the forged header as an attacker would, to an app configured as in production
(``PUBLIC_URL`` set, one proxy in front), and checks that the request is refused (400) or that
every link still starts with ``PUBLIC_URL``. The last test does it over real HTTP, on gunicorn.
"""

from __future__ import annotations

import email
import http.client
import json
import re
from email import policy
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import pytest
from factories import make_initiative, make_organisation, make_user

from directory import create_app
from directory.extensions import db

PUBLIC = "https://annuaire.example.gouv.fr"
EVIL = "evil.example"
VICTIM = "victime@example.org"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def site(app, tmp_path):
    """The seeded database served as in production: ``PUBLIC_URL`` set, one proxy in front."""
    production = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "production"),
            "DATABASE_URL": app.config["DATABASE_URL"],
            "SEARCH_INDEX_DIR": app.config["SEARCH_INDEX_DIR"],
            "SECRET_KEY": app.config["SECRET_KEY"],
            "PUBLIC_URL": PUBLIC,
            "PROXY_COUNT": 1,
        }
    )
    with production.app_context():
        lead = make_organisation(slug="porteur-hote", name="Porteur de l’hôte")
        make_initiative(slug="initiative-hote", title="Initiative de l’hôte", lead=lead)
        make_user(email=VICTIM)
        db.session.commit()
    yield production
    with production.app_context():
        db.session.remove()
        db.engine.dispose()


def _outbox(app) -> list[str]:
    folder = Path(app.instance_path) / "outbox"
    mails = sorted(folder.glob("*.eml")) if folder.exists() else []
    return [
        email.message_from_bytes(path.read_bytes(), policy=policy.default).get_body().get_content()
        for path in mails
    ]


def _links(text: str) -> list[str]:
    return re.findall(r"https?://[^\s\"'<>]+", text)


def _reset_request(site, headers: dict[str, str]):
    """The reset form as an attacker posts it: a real session and CSRF token, then ``headers``.

    The token and the session cookie come from a visit on the canonical address, so that only
    the header under test can make the request fail.
    """
    client = site.test_client()
    page = client.get("/mot-de-passe-oublie")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    name = site.config["SESSION_COOKIE_NAME"]
    # The attacker's Referer matches the Host they send, as Flask-WTF's HTTPS check expects.
    referer = f"https://{headers.get('Host', urlsplit(PUBLIC).netloc)}/mot-de-passe-oublie"
    cookie = client.get_cookie(name, domain=urlsplit(PUBLIC).hostname)
    assert cookie is not None
    # A client without a cookie jar: the Cookie header goes as written, whatever the Host.
    attacker = site.test_client(use_cookies=False)
    response = attacker.post(
        "/mot-de-passe-oublie",
        data={"email": VICTIM, "csrf_token": token},
        headers={"Cookie": f"{name}={cookie.value}", "Referer": referer, **headers},
    )
    response.close()  # a mail sent once the response is over is written by now
    return response


def test_a_reset_asked_with_a_forged_host_is_refused_and_mails_nothing(site):
    response = _reset_request(site, {"Host": EVIL})
    assert response.status_code == 400
    assert "Requête invalide" in response.text
    assert EVIL not in response.text
    assert _outbox(site) == []


def test_a_reset_asked_on_the_canonical_host_mails_a_canonical_link(site):
    response = _reset_request(site, {"Host": urlsplit(PUBLIC).netloc})
    assert response.status_code == 200
    (mail,) = _outbox(site)
    links = _links(mail)
    assert any(link.startswith(PUBLIC + "/reinitialiser/") for link in links), mail
    assert all(link.startswith(PUBLIC + "/") for link in links), links


def test_a_forwarded_host_does_not_reach_the_reset_mail(site):
    response = _reset_request(site, {"X-Forwarded-Host": EVIL, "X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    (mail,) = _outbox(site)
    assert EVIL not in mail
    assert any(link.startswith(PUBLIC + "/reinitialiser/") for link in _links(mail)), mail


FORWARDED = {"X-Forwarded-Host": EVIL, "X-Forwarded-For": "203.0.113.9"}


def test_a_forwarded_host_does_not_reach_the_api_links(site):
    client = site.test_client()
    response = client.get("/api/v1/initiatives?per_page=1", headers=FORWARDED)
    assert response.status_code == 200
    assert EVIL not in response.text
    body = response.get_json()
    assert body["data"], body
    for item in body["data"]:
        assert item["api_url"].startswith(PUBLIC + "/api/v1/initiatives/")
    assert body["links"]["self"].startswith(PUBLIC + "/api/v1/initiatives?")
    assert body["links"]["next"].startswith(PUBLIC + "/api/v1/initiatives?")
    document = client.get("/api/v1/openapi.json", headers=FORWARDED).get_json()
    assert document["servers"][0]["url"] == PUBLIC + "/api/v1"


def test_a_forwarded_host_does_not_reach_the_atom_feed(site):
    response = site.test_client().get("/flux/initiatives.atom", headers=FORWARDED)
    assert response.status_code == 200
    assert EVIL not in response.text
    feed = ET.fromstring(response.get_data())
    hrefs = [link.get("href") for link in feed.iter(f"{ATOM}link")]
    assert hrefs and all(href.startswith(PUBLIC + "/") for href in hrefs), hrefs
    ids = [entry.findtext(f"{ATOM}id") for entry in feed.iter(f"{ATOM}entry")]
    assert ids and all(value.startswith("tag:annuaire.example.gouv.fr,") for value in ids)
    assert feed.findtext(f"{ATOM}author/{ATOM}uri") == PUBLIC + "/"


def test_a_forwarded_host_does_not_reach_the_embed_snippets(site):
    response = site.test_client().get("/carte", headers=FORWARDED)
    assert response.status_code == 200
    assert EVIL not in response.text
    assert f'&lt;iframe src="{PUBLIC}/embed/carte' in response.text
    page = site.test_client().get("/organisations/porteur-hote", headers=FORWARDED)
    assert page.status_code == 200
    assert EVIL not in page.text
    assert f'&lt;iframe src="{PUBLIC}/embed/liste?organisation=porteur-hote' in page.text


def test_a_forwarded_host_is_not_written_into_the_open_data_files(site):
    client = site.test_client()
    download = client.get("/donnees/initiatives.json", headers=FORWARDED)
    assert download.status_code == 200
    records = json.loads(download.get_data())
    download.close()  # a file served from disk stays open until the response is closed
    assert records and all(record["url"].startswith(PUBLIC + "/initiatives/") for record in records)
    # The file stays cached for every later visitor: the copy on disk is canonical too.
    cached = Path(site.instance_path) / "opendata"
    for path in cached.glob("*.*"):
        if path.suffix in (".csv", ".json", ".geojson"):
            assert EVIL not in path.read_text(encoding="utf-8"), path.name
    listed = client.get("/initiatives/export.csv", headers=FORWARDED)
    assert listed.status_code == 200
    assert EVIL not in listed.text and PUBLIC + "/initiatives/initiative-hote" in listed.text


@pytest.mark.parametrize(
    "path", ["/", "/api/v1/initiatives", "/flux/initiatives.atom", "/carte", "/pas-de-page"]
)
def test_a_forged_host_is_refused_everywhere(site, path):
    response = site.test_client().get(path, headers={"Host": EVIL})
    assert response.status_code == 400
    assert EVIL not in response.text
    if path.startswith("/api/"):
        assert response.get_json()["error"]["code"] == "bad_request"
    else:
        assert "Requête invalide" in response.text
        # The error page's own links name the canonical site, not the forged one.
        assert 'href="/"' in response.text


def test_a_forged_host_on_a_real_server_is_refused(gunicorn_server):
    """Over real HTTP, as ``make run`` serves: the Host header is the one the client wrote."""
    server = gunicorn_server(
        workers=1,
        env={"PUBLIC_URL": PUBLIC, "TRUSTED_HOSTS": "127.0.0.1", "PROXY_COUNT": "1"},
    )
    for path in ("/api/v1/initiatives", "/flux/initiatives.atom", "/carte"):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.request("GET", path, headers={"Host": EVIL})
        response = connection.getresponse()
        body = response.read().decode()
        connection.close()
        assert response.status == 400, (path, body[:200])
        assert EVIL not in body
    # The internal name added by TRUSTED_HOSTS is served, its links still canonical.
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", "/api/v1/initiatives?per_page=1", headers={"X-Forwarded-Host": EVIL})
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()
    assert response.status == 200
    assert body["links"]["self"].startswith(PUBLIC + "/api/v1/initiatives")
