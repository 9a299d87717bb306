"""Small maps of one initiative's, organisation's or département's places."""

from __future__ import annotations

import json
import re

from factories import make_initiative, make_organisation
from flask import render_template_string

from directory import maps
from directory.extensions import db
from directory.models import Departement, Place, Status

INCLUDE = '{% with subject = thing %}{% include "map/_mini_map.html" %}{% endwith %}'


def test_an_initiative_shows_each_of_its_places(app_ctx):
    initiative = make_initiative(commune="13055")
    initiative.places.append(Place(label="Local associatif", latitude=43.3, longitude=5.4))
    db.session.commit()

    mini = maps.mini_map(initiative)

    assert mini.total == 2
    assert [p.label for p in mini.points] == ["Marseille", "Local associatif"]
    assert mini.filters == {}


def test_an_organisation_shows_only_its_published_initiatives(app_ctx):
    organisation = make_organisation(name="Association du Var")
    make_initiative(commune="83137", lead=organisation, title="Épicerie solidaire")
    make_initiative(commune="84007", lead=organisation, title="Brouillon", status=Status.DRAFT)
    make_initiative(commune="06088", title="Sans lien")
    db.session.commit()

    mini = maps.mini_map(organisation)

    assert [p.label for p in mini.points] == ["Épicerie solidaire (Toulon)"]
    assert mini.filters == {"organisation": organisation.slug}


def test_a_departement_shows_the_places_inside_it(app_ctx):
    inside = make_initiative(commune="84007", title="Dans le Vaucluse")
    inside.places.append(Place(commune_code="13055"))  # another place, outside
    db.session.commit()

    mini = maps.mini_map(db.session.get(Departement, "84"))

    labels = [p.label for p in mini.points]
    assert "Dans le Vaucluse (Avignon)" in labels
    assert not any("Marseille" in label for label in labels)
    assert mini.filters == {"departement": "84"}


def test_the_partial_renders_points_a_list_and_a_link(app):
    with app.test_request_context():
        organisation = make_organisation(name="Les <Voisins>")
        make_initiative(commune="83137", lead=organisation, title='L\'épicerie "solidaire"')
        db.session.commit()
        html = render_template_string(INCLUDE, thing=organisation)

    data = re.search(r"data-mini-map='([^']*)'", html).group(1)
    points = json.loads(data.replace("&#34;", '"').replace("&#39;", "'"))
    assert points[0][2] == 'L\'épicerie "solidaire" (Toulon)'
    assert "Lieux des initiatives de Les &lt;Voisins&gt;" in html
    assert f"/carte?organisation={organisation.slug}" in html
    assert "/static/js/mini-map.js" in html


def test_the_partial_shows_nothing_without_places(app):
    with app.test_request_context():
        initiative = make_initiative()
        db.session.commit()
        assert render_template_string(INCLUDE, thing=initiative).strip() == ""
        assert render_template_string(INCLUDE, thing=None).strip() == ""


def test_a_departement_map_draws_its_outline(app):
    with app.test_request_context():
        make_initiative(commune="84007")
        db.session.commit()
        departement = db.session.get(Departement, "84")
        html = render_template_string(INCLUDE, thing=departement)

    outline = json.loads(re.search(r"data-outline='([^']*)'", html).group(1))
    assert outline["type"] in ("Polygon", "MultiPolygon")
