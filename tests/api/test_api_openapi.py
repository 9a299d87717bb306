"""The OpenAPI document describes the real answers, and the documentation page shows it."""

from __future__ import annotations

import jsonschema_rs
import pytest


@pytest.fixture
def document(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _validator(document: dict, component: str):
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": f"#/components/schemas/{component}",
        "components": document["components"],
    }
    return jsonschema_rs.Draft202012Validator(schema)


def test_document_is_openapi_3_1_with_every_operation(document):
    assert document["openapi"] == "3.1.0"
    assert document["servers"][0]["url"] == "http://localhost/api/v1"
    assert set(document["paths"]) == {
        "/openapi.json",
        "/initiatives",
        "/initiatives/{slug}",
        "/map/points",
        "/organisations",
        "/organisations/{slug}",
        "/events",
        "/events/{slug}",
        "/themes",
        "/publics",
        "/regions",
        "/departements",
        "/communes",
    }
    for path in document["paths"]:
        assert set(document["paths"][path]) == {"get"}


def test_accepted_values_come_from_the_database(document):
    theme = document["components"]["parameters"]["theme"]["schema"]["items"]["enum"]
    assert "participation-citoyenne" in theme
    departement = document["components"]["parameters"]["departement"]["schema"]["items"]["enum"]
    assert {"13", "34"} <= set(departement)


def test_every_seeded_entry_matches_its_schema(client, document):
    """Details are rarely reached by the fuzzer (random slugs): check each real one here."""
    checks = [
        ("/api/v1/initiatives?per_page=100", "InitiativeSummary", "Initiative", "initiatives"),
        (
            "/api/v1/organisations?per_page=100",
            "OrganisationSummary",
            "Organisation",
            "organisations",
        ),
    ]
    for list_url, summary, detail, path in checks:
        items = client.get(list_url).get_json()["data"]
        assert items
        for item in items:
            _validator(document, summary).validate(item)
            body = client.get(f"/api/v1/{path}/{item['slug']}").get_json()
            _validator(document, detail).validate(body["data"])
    for event in client.get("/api/v1/events").get_json()["data"]:
        _validator(document, "EventSummary").validate(event)
        body = client.get(f"/api/v1/events/{event['slug']}").get_json()
        _validator(document, "Event").validate(body["data"])


def test_schemas_are_closed_so_drift_is_caught(client, document):
    item = client.get("/api/v1/initiatives").get_json()["data"][0]
    item["unexpected"] = 1

    assert not _validator(document, "InitiativeSummary").is_valid(item)


def test_documentation_page_in_french_with_curl_examples(client):
    response = client.get("/api/v1/")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert 'lang="fr"' in page
    assert "curl" in page
    assert "/api/v1/openapi.json" in page
    assert "/api/v1/initiatives" in page
    assert client.get("/api/v1/documentation").status_code == 200
