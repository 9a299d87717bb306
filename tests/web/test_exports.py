"""Download addresses of the lists and the search, the /donnees page and the export command."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

import pytest
from factories import make_initiative, make_organisation, make_theme, make_user
from openpyxl import load_workbook

from directory.extensions import db
from directory.models import OrganisationKind, Role, Status
from directory.services import workflow

TODAY = datetime.now(UTC).date().isoformat()
SECRET_EMAIL = "proposeur.secret@example.net"


def _rows(data: bytes, delimiter: str = ",") -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=delimiter))


def _slugs_on_page(html: str, kind: str) -> list[str]:
    return re.findall(
        rf'<h3 class="fr-[a-z0-9-]+[^"]*"[^>]*>\s*<a href="/{kind}/([a-z0-9-]+)"', html
    )


@pytest.fixture
def world(app_ctx):
    theme = make_theme(slug="theme-export")
    lead = make_organisation(
        slug="asso-export", name="Asso export", kind=OrganisationKind.COLLECTIF
    )
    for n in range(3):
        initiative = make_initiative(
            slug=f"initiative-export-{n}",
            title=f"Potager solidaire {n}",
            commune="13055",
            lead=lead,
            start_year=2010 + n,
        )
        if n < 2:
            initiative.themes.append(theme)
    make_initiative(slug="formule-export", title="=1+1 formule", commune="84007")
    make_initiative(slug="brouillon-export", title="Potager brouillon", status=Status.DRAFT)
    make_user(email="membre.secret@example.net", organisation=lead)
    db.session.commit()
    workflow.propose_anonymous(
        {"title": "Potager proposé"}, proposer_name="Anonyme", proposer_email=SECRET_EMAIL
    )


@pytest.mark.parametrize(
    ("url", "content_type", "name"),
    [
        ("/initiatives/export.csv", "text/csv; charset=utf-8", f"annuaire-initiatives-{TODAY}.csv"),
        (
            "/initiatives/export-excel.csv",
            "text/csv; charset=utf-8",
            f"annuaire-initiatives-{TODAY}-excel.csv",
        ),
        (
            "/initiatives/export.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            f"annuaire-initiatives-{TODAY}.xlsx",
        ),
        ("/initiatives/export.json", "application/json", f"annuaire-initiatives-{TODAY}.json"),
        (
            "/initiatives/export.geojson",
            "application/geo+json",
            f"annuaire-initiatives-{TODAY}.geojson",
        ),
        (
            "/organisations/export.csv",
            "text/csv; charset=utf-8",
            f"annuaire-organisations-{TODAY}.csv",
        ),
        (
            "/organisations/export.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            f"annuaire-organisations-{TODAY}.xlsx",
        ),
        ("/organisations/export.json", "application/json", f"annuaire-organisations-{TODAY}.json"),
        (
            "/recherche/export.csv?q=potager",
            "text/csv; charset=utf-8",
            f"annuaire-recherche-initiatives-{TODAY}.csv",
        ),
        (
            "/recherche/export-excel.csv?q=asso&onglet=organisations",
            "text/csv; charset=utf-8",
            f"annuaire-recherche-organisations-{TODAY}-excel.csv",
        ),
    ],
)
def test_downloads_are_dated_attachments(client, world, url, content_type, name):
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.headers["Content-Disposition"] == f'attachment; filename="{name}"'
    assert response.data


def test_every_format_reads_back_with_the_same_entries(client, world):
    args = "?theme=theme-export"
    expected = ["initiative-export-0", "initiative-export-1"]
    data = client.get("/initiatives/export.csv" + args).data
    assert [r["identifiant"] for r in _rows(data)] == expected
    excel = client.get("/initiatives/export-excel.csv" + args).data
    assert excel.startswith(b"\xef\xbb\xbf") and b"\r\n" in excel
    assert [r["identifiant"] for r in _rows(excel, ";")] == expected
    sheet = load_workbook(io.BytesIO(client.get("/initiatives/export.xlsx" + args).data)).active
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == expected
    records = json.loads(client.get("/initiatives/export.json" + args).data)
    assert [r["identifiant"] for r in records] == expected
    features = json.loads(client.get("/initiatives/export.geojson" + args).data)["features"]
    assert [f["properties"]["identifiant"] for f in features] == expected


def test_export_follows_the_list_page_filters_and_sort(client, world):
    for args in (
        "?organisation=asso-export&tri=annee",
        "?organisation=asso-export&tri=titre",
        "?departement=84",
        "?q=potager&annee=2011",
    ):
        page = client.get("/initiatives" + args).get_data(as_text=True)
        shown = _slugs_on_page(page, "initiatives")
        exported = [
            r["identifiant"] for r in _rows(client.get("/initiatives/export.csv" + args).data)
        ]
        assert exported == shown, args
        assert shown


def test_organisation_export_follows_the_list_filters(client, world):
    page = client.get("/organisations?type=collectif").get_data(as_text=True)
    shown = _slugs_on_page(page, "organisations")
    exported = _rows(client.get("/organisations/export.csv?type=collectif").data)
    assert [r["identifiant"] for r in exported] == shown == ["asso-export"]


def test_search_export_gives_every_result_of_the_search(client, world):
    page = client.get("/recherche?q=potager&tri=titre").get_data(as_text=True)
    shown = _slugs_on_page(page, "initiatives")
    exported = _rows(client.get("/recherche/export.csv?q=potager&tri=titre").data)
    assert [r["identifiant"] for r in exported] == shown
    assert len(shown) == 3  # the draft and the pending proposal are not found
    organisations = json.loads(
        client.get("/recherche/export.json?q=asso&onglet=organisations").data
    )
    assert [o["identifiant"] for o in organisations] == ["asso-export"]
    # A search that asks nothing exports nothing, as the page shows nothing.
    assert _rows(client.get("/recherche/export.csv").data) == []


def test_formula_cells_are_neutralised_in_spreadsheets_only(client, world):
    rows = _rows(client.get("/initiatives/export.csv?departement=84").data)
    assert rows[0]["titre"] == "'=1+1 formule"
    sheet = load_workbook(io.BytesIO(client.get("/initiatives/export.xlsx?departement=84").data))
    assert sheet.active["C2"].value == "'=1+1 formule"
    assert sheet.active["C2"].data_type == "s"
    records = json.loads(client.get("/initiatives/export.json?departement=84").data)
    assert records[0]["titre"] == "=1+1 formule"


def test_private_and_unpublished_data_never_appear(client, world):
    urls = [
        f"/{kind}/export.{fmt}"
        for kind in ("initiatives", "organisations")
        for fmt in ("csv", "json", "xlsx")
    ] + ["/initiatives/export.geojson", "/recherche/export.json?q=potager"]
    for url in urls:
        data = client.get(url).data
        if url.endswith("xlsx"):
            sheet = load_workbook(io.BytesIO(data)).active
            data = json.dumps(list(sheet.values), default=str).encode()
        text = data.decode("utf-8-sig")
        for private in (
            SECRET_EMAIL,
            "membre.secret",
            "Potager proposé",
            "brouillon-export",
            "Potager brouillon",
        ):
            assert private not in text, (url, private)


@pytest.mark.parametrize(
    "url",
    [
        "/initiatives/export.pdf",
        "/initiatives/export.",
        "/organisations/export.geojson",
        "/recherche/export.pdf",
        "/recherche/export.geojson?onglet=organisations",
        "/donnees/inconnu.csv",
        "/donnees/manifest.json",
        "/donnees/..%2Fconfig.py",
    ],
)
def test_unknown_formats_and_files_are_not_found(client, world, url):
    assert client.get(url).status_code == 404


def test_excel_format_has_one_address(client, world):
    response = client.get("/initiatives/export.excel-csv")
    assert response.status_code in (308, 404)
    if response.status_code == 308:
        assert response.headers["Location"].endswith("/initiatives/export-excel.csv")


def test_hostile_parameters_never_fail(client, world):
    for query in (
        "?q=%00potager&theme=%00&departement=9999&annee=abc&tri=%3Cscript%3E",
        "?q=" + "a" * 5000,
        "?organisation=" + "x" * 5000 + "&evenement=%00",
        "?stage=inconnue&region=lune&public=%00,%00",
    ):
        for url in ("/initiatives/export.csv", "/initiatives/export.geojson"):
            response = client.get(url + query)
            assert response.status_code == 200, url + query
            assert response.data
    for query in ("?type=%00&departement=%00", "?type=inconnu&tri=zz"):
        assert client.get("/organisations/export.json" + query).status_code == 200
    for query in ("?q=%00&commune=%00&rayon=-5&onglet=%00", "?q=potager&commune=99999&rayon=abc"):
        assert client.get("/recherche/export.json" + query).status_code == 200


def test_exports_are_read_only(client, csrf_token, world):
    token = csrf_token(client)
    for url in ("/initiatives/export.csv", "/donnees", "/donnees/initiatives.csv"):
        assert client.post(url, data={"csrf_token": token}).status_code == 405


def test_an_initiative_slug_still_reaches_its_sheet(client, app_ctx):
    make_initiative(slug="export", title="Une initiative nommée export")
    db.session.commit()
    page = client.get("/initiatives/export")
    assert page.status_code == 200
    assert "Une initiative nommée export" in page.get_data(as_text=True)


def test_exports_are_public_for_everyone(client, sign_in, world):
    assert client.get("/initiatives/export.csv").status_code == 200
    partner = make_user(role=Role.PARTNER)
    db.session.commit()
    sign_in(client, partner)
    assert client.get("/organisations/export.json").status_code == 200
    assert client.get("/donnees").status_code == 200


def test_download_menus_link_to_the_same_filters(client, world):
    page = client.get("/initiatives?theme=theme-export&tri=annee").get_data(as_text=True)
    assert 'href="/initiatives/export.csv?theme=theme-export&amp;tri=annee"' in page
    assert 'href="/initiatives/export-excel.csv?theme=theme-export&amp;tri=annee"' in page
    assert 'href="/initiatives/export.geojson?theme=theme-export&amp;tri=annee"' in page
    page = client.get("/organisations?type=collectif").get_data(as_text=True)
    assert 'href="/organisations/export.xlsx?type=collectif"' in page
    assert "/organisations/export.geojson" not in page
    page = client.get("/recherche?q=potager").get_data(as_text=True)
    assert 'href="/recherche/export.json?q=potager"' in page
    empty = client.get("/initiatives?q=zzzqqqxxx").get_data(as_text=True)
    assert "/initiatives/export.csv" not in empty


def test_opendata_page_and_files(client, world):
    page = client.get("/donnees")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<title>Données ouvertes" in html
    assert "Licence Ouverte" in html
    for name in ("initiatives.csv", "organisations.json", "initiatives.geojson"):
        assert f'href="/donnees/{name}"' in html
    assert 'href="/donnees/initiatives.schema.json"' in html

    response = client.get("/donnees/initiatives.csv")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert f"annuaire-initiatives-{TODAY}.csv" in response.headers["Content-Disposition"]
    slugs = {r["identifiant"] for r in _rows(response.data)}
    assert {"initiative-export-0", "formule-export"} <= slugs
    assert "brouillon-export" not in slugs
    response.close()

    schema = client.get("/donnees/organisations.schema.json")
    assert schema.status_code == 200
    assert json.loads(schema.data)["primaryKey"] == ["identifiant"]
    schema.close()


def test_opendata_files_follow_changes(client, world):
    first = _rows(client.get("/donnees/initiatives.csv").data)
    make_initiative(slug="nouvelle-export", title="Nouvelle")
    db.session.commit()
    second = _rows(client.get("/donnees/initiatives.csv").data)
    assert len(second) == len(first) + 1
    assert "nouvelle-export" in {r["identifiant"] for r in second}


def test_export_command_writes_the_opendata_files(runner, world, tmp_path):
    target = tmp_path / "opendata"
    result = runner.invoke(
        args=["export", "opendata", str(target), "--base-url", "https://annuaire.example.org"]
    )
    assert result.exit_code == 0, result.output
    assert "Données ouvertes écrites" in result.output
    rows = _rows((target / "initiatives.csv").read_bytes())
    assert rows and rows[0]["url"].startswith("https://annuaire.example.org/initiatives/")
    assert (target / "initiatives.schema.json").is_file()
    assert json.loads((target / "manifest.json").read_text())["counts"]["initiatives"] == len(rows)


def test_export_command_refuses_a_bad_base_url(runner, world, tmp_path):
    result = runner.invoke(args=["export", "opendata", str(tmp_path), "--base-url", "ftp://x"])
    assert result.exit_code == 2
    assert not (tmp_path / "initiatives.csv").exists()


def test_an_unread_download_leaves_other_requests_alone(client, world):
    """No context stays pushed while a body waits: bodies read in any order work."""
    first = client.get("/initiatives/export.csv?theme=theme-export")
    second = client.get("/organisations/export.json?type=collectif")
    assert client.get("/initiatives").status_code == 200
    assert [o["identifiant"] for o in json.loads(second.data)] == ["asso-export"]
    assert len(_rows(first.data)) == 2
