"""The map's addresses: page, points payload (ETag, gzip, formats), counts, popups, embed."""

from __future__ import annotations

import gzip
import json
import re

import pytest
from factories import make_initiative, make_organisation
from flask import url_for

from directory import maps
from directory.extensions import db
from directory.models import Status
from directory.services import demo
from directory.services.filters import InitiativeFilters


@pytest.fixture(autouse=True)
def _fresh_cache():
    maps.payload_cache.clear()
    yield
    maps.payload_cache.clear()


def _assets(html: str) -> list[str]:
    return re.findall(r'<(?:script|link|img)\b[^>]*\b(?:src|href)="([^"]+)"', html)


def test_the_map_page_loads_everything_from_the_site(client):
    response = client.get("/carte")
    html = response.get_data(as_text=True)

    assert response.status_code == 200
    assert 'class="folium-map"' in html
    assets = _assets(html)
    assert "/static/vendor/leaflet/leaflet.js" in assets
    assert "/static/vendor/supercluster/supercluster.min.js" in assets
    assert not [url for url in assets if url.startswith(("http:", "https:", "//"))]
    # Any other absolute URL in the page code is a tile template (or an external link).
    for url in re.findall(r'"(https?://[^"]+)"', html):
        assert "{z}" in url or url.startswith(("https://www.", "http://localhost/")), url
    assert "cdn" not in html.lower()


def test_every_inline_script_carries_the_csp_nonce(client):
    response = client.get("/carte")
    html = response.get_data(as_text=True)
    nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)

    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    executable = [attrs for attrs in inline if "application/json" not in attrs]
    assert executable, "folium's script is inline"
    assert all(f'nonce="{nonce}"' in attrs for attrs in executable)
    assert (
        "unsafe-inline"
        not in response.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    )


def _folium_script(html: str) -> str:
    return re.search(r"<script nonce=\"[^\"]+\">(.*?)</script>", html, re.S).group(1)


def test_the_map_code_does_not_grow_with_the_catalogue(app, client):
    before = _folium_script(client.get("/carte").get_data(as_text=True))
    with app.app_context():
        demo.create_demo_data(150, seed=5)
    after = _folium_script(client.get("/carte").get_data(as_text=True))

    # Only counts and colours change: a few bytes, not a marker per place.
    assert abs(len(after) - len(before)) < 500
    assert "L.marker" not in after


def test_the_list_link_keeps_the_filters(app, client):
    html = client.get("/carte?departement=13&theme=x&annee=2011").get_data(as_text=True)
    with app.test_request_context():
        filters = InitiativeFilters(departements=("13",), themes=("x",), year=2011)
        expected = url_for("public.initiatives", **filters.to_args())

    link = re.search(r'id="map-list-link" href="([^"]+)"', html).group(1)
    assert link.replace("&amp;", "&") == expected


def test_points_in_compact_and_geojson_formats(app, client):
    with app.app_context():
        initiative = make_initiative(commune="13055")
        db.session.commit()
        initiative_id = initiative.id

    compact = client.get("/carte/points.geojson?format=compact").get_json()
    geojson = json.loads(client.get("/carte/points.geojson").data)

    assert compact["count"] == len(compact["points"]) == len(geojson["features"])
    assert any(point[2] == initiative_id for point in compact["points"])
    feature = geojson["features"][0]
    assert geojson["type"] == "FeatureCollection"
    assert feature["geometry"]["type"] == "Point"
    assert len(feature["geometry"]["coordinates"]) == 2
    assert "initiative" in feature["properties"]


def test_points_are_gzipped_when_the_client_accepts_it(client):
    plain = client.get("/carte/points.geojson?format=compact")
    zipped = client.get(
        "/carte/points.geojson?format=compact", headers={"Accept-Encoding": "gzip, deflate"}
    )

    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data
    assert "Accept-Encoding" in zipped.headers["Vary"]


def test_points_answer_304_until_the_catalogue_changes(app, client):
    first = client.get("/carte/points.geojson?format=compact")
    etag = first.headers["ETag"]

    again = client.get("/carte/points.geojson?format=compact", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert not again.data

    with app.app_context():
        make_initiative(commune="84007")
        db.session.commit()
    changed = client.get("/carte/points.geojson?format=compact", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert changed.get_json()["count"] == first.get_json()["count"] + 1


def test_points_follow_the_filters(app, client):
    with app.app_context():
        make_initiative(commune="84007", title="Avignon solidaire")
        make_initiative(commune="34172", title="Montpellier solidaire")
        db.session.commit()

    vaucluse = client.get("/carte/points.geojson?format=compact&departement=84").get_json()
    herault = client.get("/carte/points.geojson?format=compact&region=languedoc-roussillon")

    assert vaucluse["count"] >= 1
    assert all(4.6 < lon < 6.0 for lon, _lat, _id in vaucluse["points"])
    assert herault.get_json()["count"] >= 1


@pytest.mark.parametrize(
    "query",
    [
        "format=xml",
        "departement=abc&annee=deux-mille",
        "stage=inconnue&region=bretagne",
        "q=%00%25_",
        "theme=" + "x" * 3000,
        "annee=99999999999999999999",
    ],
)
def test_bad_input_never_breaks_the_map(client, query):
    assert client.get(f"/carte/points.geojson?{query}").status_code == 200
    assert client.get(f"/carte/departements.geojson?{query}").status_code == 200
    assert client.get(f"/carte?{query}").status_code == 200
    assert client.get(f"/embed/carte?{query}").status_code == 200


def test_departement_counts_as_geojson(app, client):
    with app.app_context():
        make_initiative(commune="84007")
        db.session.commit()

    document = client.get("/carte/departements.geojson").get_json()
    by_code = {f["properties"]["code"]: f["properties"] for f in document["features"]}

    assert by_code["84"]["count"] >= 1
    assert by_code["84"]["fill"] != maps.ZERO_COLOUR
    assert document["legend"][0]["label"] == "aucune initiative"
    filtered = client.get("/carte/departements.geojson?departement=84").get_json()
    assert {f["properties"]["code"] for f in filtered["features"]} == set(by_code)


def test_the_page_table_gives_the_counts_as_text(app, client):
    with app.app_context():
        make_initiative(commune="84007")
        db.session.commit()
        vaucluse = maps.departement_counts(InitiativeFilters())["84"]

    html = client.get("/carte").get_data(as_text=True)
    row = re.search(r'<tr data-code="84">(.*?)</tr>', html, re.S).group(1)
    assert "Vaucluse" in row
    assert f'<td class="map-counts__number">{vaucluse}</td>' in row


def test_popup_fragment_and_json(app, client):
    with app.app_context():
        lead = make_organisation(name="Association <Les Voisins>")
        initiative = make_initiative(commune="13055", lead=lead, title="Café & lien social")
        draft = make_initiative(commune="13055", status=Status.DRAFT)
        db.session.commit()
        ids = initiative.id, draft.id, initiative.slug

    fragment = client.get(f"/carte/initiative/{ids[0]}")
    as_json = client.get(f"/carte/initiative/{ids[0]}?format=json").get_json()

    assert fragment.status_code == 200
    text = fragment.get_data(as_text=True)
    assert "Café &amp; lien social" in text
    assert "Association &lt;Les Voisins&gt;" in text
    assert f'href="/initiatives/{ids[2]}"' in text
    assert as_json["communes"] == ["Marseille"]
    assert as_json["url"] == f"/initiatives/{ids[2]}"
    assert client.get(f"/carte/initiative/{ids[1]}").status_code == 404
    assert client.get("/carte/initiative/999999999").status_code == 404


def test_only_the_embed_may_be_framed(client):
    page = client.get("/carte")
    embed = client.get("/embed/carte?region=paca")

    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert embed.status_code == 200
    assert "X-Frame-Options" not in embed.headers
    assert "frame-ancestors *" in embed.headers["Content-Security-Policy"]
    html = embed.get_data(as_text=True)
    assert "fr-header" not in html  # no site chrome
    assert 'class="folium-map"' in html


def test_the_page_offers_an_embed_snippet_with_the_filters(client):
    html = client.get("/carte?region=paca").get_data(as_text=True)

    snippet = re.search(r"<textarea[^>]*>(.*?)</textarea>", html, re.S).group(1)
    assert "&lt;iframe" in snippet
    assert "/embed/carte?region=paca" in snippet


def test_the_panel_offers_events_and_organisations(app, client):
    with app.app_context():
        lead = make_organisation(name="Collectif des Quartiers")
        make_initiative(commune="13055", lead=lead)
        db.session.commit()
        slug = lead.slug

    html = client.get(f"/carte?organisation={slug}").get_data(as_text=True)

    assert 'name="evenement"' in html
    organisations = re.search(r'<select[^>]*name="organisation".*?</select>', html, re.S).group(0)
    assert f'<option value="{slug}" selected>Collectif des Quartiers</option>' in organisations


def test_many_organisations_are_chosen_from_their_page(app, client, monkeypatch):
    monkeypatch.setattr(maps, "MAX_ORGANISATION_CHOICES", 0)

    html = client.get("/carte?organisation=une-association").get_data(as_text=True)

    assert '<select class="fr-select" id="map-organisation"' not in html
    assert 'name="organisation" value="une-association" checked' in html


def test_departement_counts_without_outlines(client):
    full = client.get("/carte/departements.geojson").get_json()
    light = client.get("/carte/departements.geojson?contours=0&region=paca").get_json()

    assert any(feature["geometry"] for feature in full["features"])
    assert all(feature["geometry"] is None for feature in light["features"])
    assert [f["properties"]["code"] for f in light["features"]] == [
        f["properties"]["code"] for f in full["features"]
    ]


def test_the_list_links_to_the_map_of_the_same_results(client):
    html = client.get("/initiatives?departement=13&theme=x").get_data(as_text=True)

    link = re.search(r'<a [^>]*href="(/carte[^"]*)"[^>]*>Voir sur la carte</a>', html)
    assert link is not None
    assert link.group(1).replace("&amp;", "&") == "/carte?theme=x&departement=13"
