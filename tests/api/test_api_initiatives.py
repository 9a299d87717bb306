"""Initiatives in the API: published only, shared filters, paging, sorting, detail."""

from __future__ import annotations

from datetime import datetime

from factories import make_initiative, make_organisation, make_theme

from directory.extensions import db
from directory.models import Status


def _slugs(response) -> list[str]:
    return [item["slug"] for item in response.get_json()["data"]]


def test_list_shows_published_initiatives_only(app, client):
    with app.app_context():
        make_initiative(slug="visible-one", title="Visible")
        make_initiative(slug="draft-one", title="Brouillon", status=Status.DRAFT)
        make_initiative(slug="proposed-one", title="Proposée", status=Status.PROPOSED)
        make_initiative(slug="archived-one", title="Archivée", status=Status.ARCHIVED)
        db.session.commit()

    response = client.get("/api/v1/initiatives?per_page=100")

    assert response.status_code == 200
    slugs = _slugs(response)
    assert "visible-one" in slugs
    assert not {"draft-one", "proposed-one", "archived-one"} & set(slugs)
    assert client.get("/api/v1/initiatives/draft-one").status_code == 404


def test_demo_rows_are_flagged(app, client):
    with app.app_context():
        make_initiative(slug="demo-initiative", is_demo=True)
        db.session.commit()

    item = client.get("/api/v1/initiatives/demo-initiative").get_json()["data"]

    assert item["is_demo"] is True


def test_filters_are_the_shared_ones(app, client):
    with app.app_context():
        theme = make_theme(slug="theme-api-test")
        make_initiative(slug="in-nice", commune="06088", themes=[theme])
        make_initiative(slug="in-montpellier", commune="34172", themes=[theme])
        make_initiative(slug="in-nice-no-theme", commune="06088")
        db.session.commit()

    by_theme = _slugs(client.get("/api/v1/initiatives?theme=theme-api-test"))
    assert sorted(by_theme) == ["in-montpellier", "in-nice"]
    in_06 = _slugs(client.get("/api/v1/initiatives?theme=theme-api-test&departement=06"))
    assert in_06 == ["in-nice"]
    in_lr = _slugs(
        client.get("/api/v1/initiatives?theme=theme-api-test&region=languedoc-roussillon")
    )
    assert in_lr == ["in-montpellier"]
    both = _slugs(client.get("/api/v1/initiatives?departement=06&departement=34&per_page=100"))
    assert {"in-nice", "in-montpellier", "in-nice-no-theme"} <= set(both)


def test_text_query_and_organisation_filter(app, client):
    with app.app_context():
        lead = make_organisation(slug="porteur-api")
        make_initiative(slug="jardin-partage", title="Un jardin partagé", lead=lead)
        make_initiative(slug="autre-chose", title="Autre chose")
        db.session.commit()

    assert _slugs(client.get("/api/v1/initiatives?q=jardin")) == ["jardin-partage"]
    assert _slugs(client.get("/api/v1/initiatives?organisation=porteur-api")) == ["jardin-partage"]
    assert _slugs(client.get("/api/v1/initiatives?organisation=inconnue")) == []


def test_text_query_is_the_search_page_s(app, client):
    """Accents and word forms are forgiven, as on /recherche, not a plain substring match."""
    with app.app_context():
        make_initiative(slug="jardins-solidaires", title="Des jardins partagés et solidaires")
        make_initiative(slug="sans-rapport", title="Atelier de couture")
        db.session.commit()

    assert _slugs(client.get("/api/v1/initiatives?q=jardin+partage")) == ["jardins-solidaires"]
    found = _slugs(client.get("/api/v1/initiatives?q=PARTAGES"))
    assert "jardins-solidaires" in found  # and the seed's « partage de méthodologies »
    assert "sans-rapport" not in found
    assert _slugs(client.get("/api/v1/initiatives?q=zzzqqqwww")) == []


def test_pagination_meta_and_links(app, client):
    with app.app_context():
        for number in range(5):
            make_initiative(title=f"Pagination {number}", start_year=2000 + number)
        db.session.commit()

    first = client.get("/api/v1/initiatives?q=Pagination&per_page=2").get_json()
    assert first["meta"] == {"total": 5, "page": 1, "per_page": 2, "pages": 3}
    assert [item["title"] for item in first["data"]] == ["Pagination 0", "Pagination 1"]
    assert first["links"]["prev"] is None
    assert "page=2" in first["links"]["next"] and "q=Pagination" in first["links"]["next"]

    last = client.get(first["links"]["last"]).get_json()
    assert [item["title"] for item in last["data"]] == ["Pagination 4"]
    assert last["links"]["next"] is None

    past_the_end = client.get("/api/v1/initiatives?q=Pagination&per_page=2&page=9").get_json()
    assert past_the_end["data"] == [] and past_the_end["meta"]["total"] == 5

    newest_first = client.get("/api/v1/initiatives?q=Pagination&sort=start_year").get_json()
    assert [item["start_year"] for item in newest_first["data"]] == [2004, 2003, 2002, 2001, 2000]


def test_detail_shows_public_links_only_and_no_private_fields(app, client):
    with app.app_context():
        lead = make_organisation(slug="lead-public", name="Porteur public")
        hidden = make_organisation(slug="partner-draft", status=Status.DRAFT)
        make_initiative(
            slug="with-links",
            commune="13055",
            lead=lead,
            partners=(hidden,),
            contact_email="contact@example.org",
        )
        db.session.commit()

    response = client.get("/api/v1/initiatives/with-links")

    assert response.status_code == 200
    data = response.get_json()["data"]
    assert [org["slug"] for org in data["organisations"]] == ["lead-public"]
    assert data["lead_organisations"][0]["name"] == "Porteur public"
    assert data["communes"] == [{"code": "13055", "name": "Marseille", "departement_code": "13"}]
    assert data["contact"]["email"] == "contact@example.org"
    assert not {"status", "version", "id", "trusted"} & set(data)
    assert data["api_url"].endswith("/api/v1/initiatives/with-links")
    # ISO 8601 in UTC.
    datetime.fromisoformat(data["updated_at"].replace("Z", "+00:00"))


def test_map_points_are_geojson_of_published_places(app, client):
    with app.app_context():
        make_initiative(slug="point-nice", commune="06088")
        make_initiative(slug="point-draft", commune="06088", status=Status.DRAFT)
        db.session.commit()

    response = client.get("/api/v1/map/points?departement=06")

    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    collection = response.get_json()
    assert collection["type"] == "FeatureCollection"
    slugs = [feature["properties"]["slug"] for feature in collection["features"]]
    assert "point-draft" not in slugs
    # The factory's commune has no coordinates: places without any point are left out.
    assert all(len(f["geometry"]["coordinates"]) == 2 for f in collection["features"])


def test_seeded_initiatives_have_points_on_the_map(client):
    collection = client.get("/api/v1/map/points").get_json()

    assert collection["features"]
    lon, lat = collection["features"][0]["geometry"]["coordinates"]
    assert 2 < lon < 8 and 41 < lat < 46
