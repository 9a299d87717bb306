"""Every public filter parameter accepts any bytes: NUL, very long text, HTML, never a 500."""

from __future__ import annotations

import pytest

PATHS = [
    "/initiatives",
    "/organisations",
    "/recherche",
    "/carte/points.geojson",
    "/api/v1/initiatives",
    "/api/v1/organisations",
    "/flux/initiatives.atom",
    "/embed/liste",
    "/initiatives/export.csv",
]
PARAMETERS = ["q", "commune", "rayon", "theme", "departement", "region", "public", "etape", "page"]
VALUES = ["\x00", "a\x00b", "x" * 5000, "<script>alert(1)</script>", "-1", "%", "é" * 300]


@pytest.mark.parametrize("path", PATHS)
def test_filters_survive_hostile_values(client, path):
    for parameter in PARAMETERS:
        for value in VALUES:
            response = client.get(path, query_string={parameter: value})
            assert response.status_code < 500, (path, parameter, value[:20])
            if response.mimetype == "text/html":  # JSON may quote it: it is never run there
                assert "<script>alert(1)</script>" not in response.get_data(as_text=True)
