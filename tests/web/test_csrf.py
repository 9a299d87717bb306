"""CSRF: every write route refuses a request without a valid token, and GET never writes.

The routes come from ``app.url_map``, so routes added later are covered without editing here.
"""

from __future__ import annotations

import pytest
from security_world import WRITE_METHODS, build_world, database_state, rules, sample_url, sign_in_as

from directory.guards import route_access

# Plausible form data: if a route forgot its CSRF check, this is what would be written.
FORM_DATA = {
    "title": "Écrit sans jeton",
    "name": "Écrit sans jeton",
    "summary": "Écrit sans jeton",
    "email": "sans-jeton@example.org",
    "proposer_name": "Sans Jeton",
    "proposer_email": "sans-jeton@example.org",
    "commune": "Marseille",
    "consent": "y",
    "comment": "Écrit sans jeton",
    "password": "une phrase de passe assez longue",
    "current_password": "phrase de passe des tests",
    "new_password": "une autre phrase de passe longue",
    "confirm": "une autre phrase de passe longue",
    "role": "admin",
}

# Who posts to a route of each level (the one most likely to be allowed to write there).
POSTERS = {
    "public": ("anonymous", "curator"),
    "partner": ("member_a", "curator"),
    "staff": ("curator", "admin"),
    "admin": ("admin",),
}


def _write_rules(app):
    for rule in rules(app, methods=WRITE_METHODS):
        for method in sorted(rule.methods & WRITE_METHODS):
            yield rule, method


def test_every_write_route_is_walked(app):
    levels = {route_access(app, rule.endpoint) for rule, _ in _write_rules(app)}
    assert "public" in levels  # /proposer at least
    if "auth" in app.blueprints:
        assert "partner" in levels


@pytest.mark.parametrize("token", [None, "", "faux-jeton", "from-another-session"])
def test_write_routes_refuse_requests_without_a_valid_token(app, csrf_token, token):
    world = build_world(app)
    before = database_state(app)
    if token == "from-another-session":
        token = csrf_token(app.test_client())
    checked = 0
    for rule, method in _write_rules(app):
        for role in POSTERS[route_access(app, rule.endpoint)]:
            client = app.test_client()
            sign_in_as(app, client, world, role)
            data = dict(FORM_DATA)
            if token is not None:
                data["csrf_token"] = token
            url = sample_url(rule, world)
            response = client.open(url, method=method, data=data)
            assert response.status_code == 400, f"{method} {url} as {role}"
            assert "Requête invalide" in response.get_data(as_text=True), url
            checked += 1
    assert checked > 0
    assert database_state(app) == before


def test_json_bodies_need_the_token_too(app):
    world = build_world(app)
    before = database_state(app)
    client = app.test_client()
    sign_in_as(app, client, world, "curator")
    for rule, method in _write_rules(app):
        response = client.open(sample_url(rule, world), method=method, json=FORM_DATA)
        assert response.status_code == 400, rule.rule
    assert database_state(app) == before


def test_token_in_header_of_another_session_is_refused(app, csrf_token):
    other = app.test_client()
    token = csrf_token(other)
    client = app.test_client()
    response = client.post("/proposer", data=FORM_DATA, headers={"X-CSRFToken": token})
    assert response.status_code == 400


def test_a_valid_token_is_accepted(app, client, csrf_token):
    """The refusals above are about the token, not the route: with it, the post goes through."""
    before = database_state(app)
    response = client.post(
        "/proposer",
        data={
            **FORM_DATA,
            "summary": "Un résumé.",
            "csrf_token": csrf_token(client),
        },
    )
    assert response.status_code == 303
    after = database_state(app)
    assert after["initiative"][0] == before["initiative"][0] + 1


def test_api_accepts_no_writes(app, client):
    world = build_world(app)
    before = database_state(app)
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            response = client.open(sample_url(rule, world), method=method, json={"title": "x"})
            assert response.status_code == 405, f"{method} {rule.rule}"
    assert database_state(app) == before


# -- GET never changes anything ---------------------------------------------------------------


@pytest.mark.parametrize("role", ["anonymous", "member_a", "member_b", "curator", "admin"])
def test_get_requests_change_nothing(app, role):
    world = build_world(app)
    client = app.test_client()
    sign_in_as(app, client, world, role)
    before = database_state(app)
    visited = []
    for rule in rules(app, methods={"GET"}):
        url = sample_url(rule, world)
        response = client.get(url)
        assert response.status_code < 500, url
        level = route_access(app, rule.endpoint)
        # An argument this walk cannot fill from real entries (a token...) may give 404.
        placeholder = "inconnu" in url or "999999" in url
        if role in ("curator", "admin") and level in ("partner", "staff") and not placeholder:
            # Staff see every page with A's real entries: the walk reaches real views.
            assert response.status_code < 400, url
        visited.append(url)
    # With query strings that look like actions, too.
    for url in list(visited):
        client.get(url, query_string={"action": "supprimer", "delete": "1", "approve": "1"})
    assert database_state(app) == before
    assert len(visited) > 20
