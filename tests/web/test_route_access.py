"""Every route is classified, and the guard of each class holds for every route of it."""

from __future__ import annotations

import re

import pytest
from factories import make_organisation, make_user
from werkzeug.routing import AnyConverter

from directory.extensions import db
from directory.guards import route_access

PLACEHOLDERS = {
    "int": "999999",
    "integer": "999999",
    "default": "inconnu",
    "string": "inconnu",
    "path": "inconnu",
}


def _sample_url(rule) -> str:
    values = {}
    for argument in rule.arguments:
        converter = rule._converters[argument]
        if isinstance(converter, AnyConverter):  # only its own words route at all
            values[argument] = sorted(converter.items)[0]
            continue
        kind = type(converter).__name__.lower().replace("converter", "")
        values[argument] = PLACEHOLDERS.get(kind, "inconnu")
    url = rule.rule
    for argument, value in values.items():
        url = re.sub(rf"<(?:[a-z]+(?:\([^)]*\))?:)?{argument}>", value, url)
    return url


def _rules(app, level: str):
    for rule in app.url_map.iter_rules():
        if route_access(app, rule.endpoint) == level:
            yield rule


def test_every_route_has_an_access_level(app):
    unclassified = sorted(
        rule.rule for rule in app.url_map.iter_rules() if route_access(app, rule.endpoint) is None
    )
    assert unclassified == []


@pytest.mark.parametrize("level", ["partner", "staff", "admin"])
def test_anonymous_people_are_sent_to_sign_in_on_private_routes(app, client, level):
    checked = 0
    for rule in _rules(app, level):
        method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"OPTIONS", "HEAD"})[0]
        response = client.open(_sample_url(rule), method=method)
        if method == "GET":
            assert response.status_code == 302, rule.rule
            assert "/connexion" in response.headers["Location"], rule.rule
        else:
            # No valid CSRF token either: refused before anything else happens.
            assert response.status_code in (302, 400), rule.rule
        checked += 1
    if level == "partner" and "auth" in app.blueprints:
        assert checked > 0


def test_partners_get_403_on_staff_and_admin_routes(app, client, sign_in):
    with app.app_context():
        organisation = make_organisation()
        user = make_user(organisation=organisation)
        db.session.commit()
    sign_in(client, user)
    for level in ("staff", "admin"):
        for rule in _rules(app, level):
            if "GET" not in rule.methods:
                continue
            response = client.get(_sample_url(rule))
            assert response.status_code == 403, rule.rule


def test_private_pages_are_never_cached(app, client, sign_in):
    with app.app_context():
        user = make_user(organisation=make_organisation())
        db.session.commit()
    sign_in(client, user)
    for rule in _rules(app, "partner"):
        if "GET" in rule.methods and not rule.arguments:
            response = client.get(_sample_url(rule))
            assert response.headers.get("Cache-Control") == "no-store", rule.rule
