"""HTTP behaviour of the API: JSON errors, CORS, conditional requests, rate limit."""

from __future__ import annotations

import pytest

BAD_REQUESTS = [
    ("/api/v1/initiatives?colour=blue", "colour"),
    ("/api/v1/initiatives?year=deux-mille", "year"),
    ("/api/v1/initiatives?year=1800", "year"),
    ("/api/v1/initiatives?per_page=0", "per_page"),
    ("/api/v1/initiatives?per_page=101", "per_page"),
    ("/api/v1/initiatives?page=-1", "page"),
    ("/api/v1/initiatives?sort=random", "sort"),
    ("/api/v1/initiatives?theme=no-such-theme", "theme"),
    ("/api/v1/initiatives?stage=unknown", "stage"),
    ("/api/v1/initiatives?departement=75", "departement"),
    ("/api/v1/initiatives?region=bretagne", "region"),
    ("/api/v1/initiatives?organisation=Not%20A%20Slug", "organisation"),
    ("/api/v1/initiatives?sort=title&sort=recent", "sort"),
    ("/api/v1/initiatives?q=" + "x" * 501, "q"),
    ("/api/v1/organisations?kind=club", "kind"),
    ("/api/v1/communes", "q"),
    ("/api/v1/communes?q=nice&limit=500", "limit"),
    ("/api/v1/themes?page=2", "page"),
]


@pytest.mark.parametrize(("url", "parameter"), BAD_REQUESTS)
def test_bad_parameters_answer_400_saying_what_was_wrong(client, url, parameter):
    response = client.get(url)

    assert response.status_code == 400
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == "invalid_parameter"
    assert parameter in error["message"]
    assert [detail["parameter"] for detail in error["details"]] == [parameter]


def test_every_problem_is_reported_at_once(client):
    error = client.get("/api/v1/initiatives?foo=1&year=x&stage=y").get_json()["error"]

    assert {detail["parameter"] for detail in error["details"]} == {"foo", "year", "stage"}


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/initiatives/no-such-initiative",
        "/api/v1/organisations/no-such-organisation",
        "/api/v1/events/no-such-event",
        "/api/v1/initiatives/%00",
        "/api/v1/no/such/address",
        "/api/v2/initiatives",
    ],
)
def test_unknown_addresses_answer_json_404(client, url):
    response = client.get(url)

    assert response.status_code == 404
    if url.startswith("/api/v1/"):
        assert response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_other_methods_answer_json_405(client, method):
    response = getattr(client, method)("/api/v1/initiatives")

    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_cors_is_open_for_reading(client):
    response = client.get("/api/v1/themes", headers={"Origin": "https://partenaire.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]

    error = client.get("/api/v1/initiatives?foo=1")
    assert error.headers["Access-Control-Allow-Origin"] == "*"

    preflight = client.options(
        "/api/v1/initiatives",
        headers={
            "Origin": "https://partenaire.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "If-None-Match",
        },
    )
    assert preflight.status_code == 204
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert "If-None-Match" in preflight.headers["Access-Control-Allow-Headers"]


def test_etag_gives_304_until_the_data_changes(client):
    first = client.get("/api/v1/initiatives")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, max-age=60"

    again = client.get("/api/v1/initiatives", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""

    other_query = client.get("/api/v1/initiatives?per_page=1", headers={"If-None-Match": etag})
    assert other_query.status_code == 200


def test_last_modified_on_details(client):
    slug = client.get("/api/v1/initiatives").get_json()["data"][0]["slug"]
    first = client.get(f"/api/v1/initiatives/{slug}")
    assert first.headers["Last-Modified"]

    unchanged = client.get(
        f"/api/v1/initiatives/{slug}",
        headers={"If-Modified-Since": first.headers["Last-Modified"]},
    )
    assert unchanged.status_code == 304
    stale = client.get(
        f"/api/v1/initiatives/{slug}",
        headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"},
    )
    assert stale.status_code == 200


def test_rate_limit_per_address_answers_429_with_retry_after(app, client):
    app.config["API_RATE_LIMIT"] = "3 per minute"

    answers = [client.get("/api/v1/themes") for _ in range(3)]
    assert all(answer.status_code == 200 for answer in answers)
    assert answers[-1].headers["X-RateLimit-Remaining"] == "0"

    limited = client.get("/api/v1/themes")
    assert limited.status_code == 429
    assert limited.get_json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) > 0
    assert limited.headers["Access-Control-Allow-Origin"] == "*"

    # Another address has its own allowance.
    other = client.get("/api/v1/themes", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 200


def test_head_answers_like_get_without_a_body(client):
    get = client.get("/api/v1/themes")
    head = client.head("/api/v1/themes")

    assert head.status_code == 200
    assert head.get_data() == b""
    assert head.headers["ETag"] == get.headers["ETag"]


def test_an_unexpected_failure_answers_json_500_without_details(app, client):
    def failing_view():
        raise RuntimeError("secret internal detail")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.view_functions["api.themes"] = failing_view

    response = client.get("/api/v1/themes")

    assert response.status_code == 500
    assert response.get_json() == {
        "error": {"code": "server_error", "message": "Erreur interne du serveur."}
    }
    assert "secret" not in response.get_data(as_text=True)
