"""The export service: rows, formats, formula neutralisation, open-data files and their schemas."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from factories import (
    make_event,
    make_initiative,
    make_organisation,
    make_public,
    make_theme,
    make_user,
    unique,
)
from openpyxl import load_workbook

from directory.extensions import db
from directory.models import Initiative, Organisation, OrganisationKind, Place, Stage, Status
from directory.services import browse, workflow
from directory.services.exchange import export
from directory.services.filters import InitiativeFilters

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "opendata"
BASE = "https://annuaire.example.org/"
SECRET_EMAIL = "proposeuse.secrete@example.net"


def _collect(chunks) -> bytes:
    return b"".join(chunks)


def _csv_rows(data: bytes, delimiter: str = ",") -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=delimiter))


@pytest.fixture
def catalogue(app_ctx):
    """A small published catalogue with every kind of link, plus hostile and private data."""
    theme = make_theme(slug="insertion-test")
    public = make_public(slug="jeunes-test")
    lead = make_organisation(
        slug="porteuse-test",
        name="Porteuse",
        kind=OrganisationKind.COLLECTIVITE,
        email="contact@porteuse.example.org",
        phone="+33 4 91 00 00 00",
        commune_code="13055",
        description="<p>Premier paragraphe.</p><p>Second &amp; dernier.</p>",
    )
    partner = make_organisation(slug="partenaire-test", name="@Partenaire")
    funder = make_organisation(slug="financeur-test", name="Financeur")
    hidden = make_organisation(slug="organisation-brouillon", status=Status.DRAFT)
    event = make_event(slug="journee-test")
    hidden_event = make_event(slug="evenement-brouillon", status=Status.DRAFT)
    initiative = make_initiative(
        slug="jardin-test",
        title='=HYPERLINK("http://mal.example","clic")',
        summary="-2+3",
        description="<p>Un jardin.</p><p>Deux <strong>lignes</strong>.</p>",
        stage=Stage.DEPLOIEMENT,
        start_year=2015,
        end_year=2020,
        website="https://jardin.example.org",
        contact_email="personne.privee@example.net",
        commune="13055",
        lead=lead,
        partners=(partner, hidden),
        funders=(funder,),
    )
    initiative.themes.append(theme)
    initiative.publics.append(public)
    initiative.places.append(Place(commune_code="83137", latitude=43.1, longitude=5.9))
    event.initiatives.append(initiative)
    hidden_event.initiatives.append(initiative)
    for status in (Status.DRAFT, Status.PROPOSED, Status.ARCHIVED):
        make_initiative(slug=f"fiche-{status.value}", title=f"Fiche {status.value}", status=status)
    make_user(email="compte.secret@example.net", organisation=lead)
    db.session.commit()
    workflow.propose_anonymous(
        {"title": "Proposition anonyme secrète"},
        proposer_name="Proposeuse",
        proposer_email=SECRET_EMAIL,
    )
    return {"initiative_id": initiative.id, "lead_id": lead.id}


def _initiative_record(slug: str) -> dict:
    ids = [db.session.scalar(db.select(Initiative.id).where(Initiative.slug == slug))]
    return next(export.initiative_rows(ids, BASE))


def test_initiative_row_holds_the_public_sheet(catalogue):
    row = _initiative_record("jardin-test")
    assert set(row) == set(export.INITIATIVE_FIELDS)
    assert row["url"] == "https://annuaire.example.org/initiatives/jardin-test"
    assert row["description"] == "Un jardin.\n\nDeux lignes."
    assert row["etape"] == "deploiement"
    assert (row["annee_debut"], row["annee_fin"]) == (2015, 2020)
    assert row["themes"] == "insertion-test"
    assert row["publics"] == "jeunes-test"
    assert row["communes"] == "13055|83137"
    assert row["noms_communes"].startswith("Marseille|")
    assert row["organisations_porteuses"] == "porteuse-test"
    # An unpublished partner and an unpublished event are not shown on the sheet either.
    assert row["partenaires"] == "partenaire-test"
    assert row["financeurs"] == "financeur-test"
    assert row["evenements"] == "journee-test"
    # The first precise point wins over the first commune's centre.
    assert (row["latitude"], row["longitude"]) == (43.1, 5.9)
    assert row["donnees_de_demonstration"] is False
    assert "personne.privee" not in json.dumps(row)


def test_point_falls_back_on_the_commune_centre(catalogue):
    make_initiative(slug="sans-point", commune="13055")
    db.session.commit()
    row = _initiative_record("sans-point")
    assert row["latitude"] == pytest.approx(43.29, abs=0.05)
    assert row["longitude"] == pytest.approx(5.38, abs=0.05)
    make_initiative(slug="sans-lieu")
    db.session.commit()
    assert _initiative_record("sans-lieu")["latitude"] is None


def test_organisation_row_shows_its_public_contact(catalogue):
    row = next(export.organisation_rows([catalogue["lead_id"]], BASE))
    assert set(row) == set(export.ORGANISATION_FIELDS)
    assert row["courriel"] == "contact@porteuse.example.org"
    assert row["type"] == "collectivite"
    assert row["commune"] == "13055"
    assert row["nom_commune"] == "Marseille"
    assert row["description"] == "Premier paragraphe.\n\nSecond & dernier."


def test_neutralise_formula_starts():
    for text in ("=1+1", "+33 4", "-2", "@SUM(A1)", "\tx", "\rx", "  =A1"):
        assert export.neutralise(text) == "'" + text
    for text in ("Jardin", "1-2", "a=b", "", "'déjà"):
        assert export.neutralise(text) == text


def test_csv_neutralises_text_but_not_numbers(catalogue):
    ids = export.initiative_ids(InitiativeFilters(organisation="porteuse-test"))
    rows = _csv_rows(_collect(export.stream("initiatives", "csv", ids, BASE)))
    assert len(rows) == 1
    assert rows[0]["titre"] == '\'=HYPERLINK("http://mal.example","clic")'
    assert rows[0]["resume"] == "'-2+3"
    assert rows[0]["latitude"] == "43.1"
    assert rows[0]["donnees_de_demonstration"] == "false"
    organisations = _csv_rows(
        _collect(export.stream("organisations", "csv", [catalogue["lead_id"]], BASE))
    )
    assert organisations[0]["telephone"] == "'+33 4 91 00 00 00"


def test_excel_csv_has_bom_semicolons_and_crlf(catalogue):
    ids = export.initiative_ids()
    data = _collect(export.stream("initiatives", "excel-csv", ids, BASE))
    assert data.startswith("\ufeff".encode())
    header = data.decode("utf-8-sig").split("\r\n", 1)[0]
    assert header.split(";") == list(export.INITIATIVE_FIELDS)
    rows = _csv_rows(data, delimiter=";")
    assert [row["identifiant"] for row in rows] == [db.session.get(Initiative, i).slug for i in ids]


def test_xlsx_reads_back_with_neutralised_cells(catalogue):
    ids = export.initiative_ids(InitiativeFilters(organisation="porteuse-test"))
    data = _collect(export.stream("initiatives", "xlsx", ids, BASE))
    sheet = load_workbook(io.BytesIO(data), read_only=True).active
    values = list(sheet.values)
    assert list(values[0]) == list(export.INITIATIVE_FIELDS)
    row = dict(zip(values[0], values[1], strict=True))
    assert row["titre"].startswith("'=HYPERLINK")
    assert row["annee_debut"] == 2015
    assert row["latitude"] == 43.1
    assert len(values) == 2


def test_json_and_geojson_keep_the_text(catalogue):
    ids = export.initiative_ids()
    records = json.loads(_collect(export.stream("initiatives", "json", ids, BASE)))
    assert [r["identifiant"] for r in records] == [db.session.get(Initiative, i).slug for i in ids]
    jardin = next(r for r in records if r["identifiant"] == "jardin-test")
    assert jardin["titre"].startswith("=HYPERLINK")
    assert jardin["annee_debut"] == 2015

    collection = json.loads(_collect(export.stream("initiatives", "geojson", ids, BASE)))
    assert collection["type"] == "FeatureCollection"
    located = [r for r in records if r["latitude"] is not None]
    assert len(collection["features"]) == len(located)
    feature = next(
        f for f in collection["features"] if f["properties"]["identifiant"] == "jardin-test"
    )
    assert feature["geometry"] == {"type": "Point", "coordinates": [5.9, 43.1]}
    assert "latitude" not in feature["properties"]


def test_empty_exports_are_still_well_formed(app_ctx):
    assert json.loads(_collect(export.stream("initiatives", "json", [], BASE))) == []
    empty = json.loads(_collect(export.stream("initiatives", "geojson", [], BASE)))
    assert empty == {"type": "FeatureCollection", "features": []}
    assert _csv_rows(_collect(export.stream("organisations", "csv", [], BASE))) == []


def test_unknown_format_is_refused():
    with pytest.raises(export.ExportError):
        export.check("organisations", "geojson")
    with pytest.raises(export.ExportError):
        export.check("initiatives", "pdf")
    with pytest.raises(export.ExportError):
        export.check("comptes", "csv")


@pytest.mark.parametrize(
    "args",
    [
        {},
        {"theme": "insertion-test"},
        {"public": "jeunes-test", "stage": "deploiement"},
        {"departement": "83"},
        {"region": "paca"},
        {"organisation": "porteuse-test"},
        {"evenement": "journee-test"},
        {"annee": "2015"},
        {"q": "jardin"},
    ],
)
def test_filters_match_the_list_page(catalogue, args):
    filters = InitiativeFilters.from_args(args)
    for sort in browse.INITIATIVE_SORTS:
        page = browse.list_initiatives(filters, sort, per_page=1000)
        assert export.initiative_ids(filters, sort) == [i.id for i in page.items]


def test_organisation_filters_match_the_list_page(catalogue):
    for args in ({}, {"type": "collectivite"}, {"departement": "13"}):
        filters = browse.OrganisationFilters.from_args(args)
        for sort in browse.ORGANISATION_SORTS:
            page = browse.list_organisations(filters, sort, per_page=1000)
            assert export.organisation_ids(filters, sort) == [o.id for o in page.items]


def test_opendata_files_hold_published_entries_only(catalogue, tmp_path):
    release = export.write_opendata(tmp_path, base_url=BASE)
    published = db.session.scalar(
        db.select(db.func.count(Initiative.id)).where(Initiative.status == Status.PUBLISHED)
    )
    assert release.counts["initiatives"] == published
    assert {f.name for f in release.files} == set(export.OPENDATA_FILES)
    everything = b"".join(path.read_bytes() for path in tmp_path.iterdir() if path.is_file())
    text = everything.decode("utf-8", errors="replace")
    for private in (
        SECRET_EMAIL,
        "Proposition anonyme",
        "compte.secret@example.net",
        "personne.privee@example.net",
        "fiche-draft",
        "fiche-proposed",
        "fiche-archived",
        "organisation-brouillon",
        "evenement-brouillon",
        "password",
        "argon2",
    ):
        assert private not in text, private
    slugs = {row["identifiant"] for row in _csv_rows((tmp_path / "initiatives.csv").read_bytes())}
    assert "jardin-test" in slugs
    organisations = _csv_rows((tmp_path / "organisations.csv").read_bytes())
    assert all(
        db.session.scalar(
            db.select(Organisation.status).where(Organisation.slug == r["identifiant"])
        )
        == Status.PUBLISHED
        for r in organisations
    )


def test_pending_change_is_not_exported(catalogue):
    curator_free = make_user(organisation=db.session.get(Organisation, catalogue["lead_id"]))
    db.session.commit()
    initiative = db.session.get(Initiative, catalogue["initiative_id"])
    revision = workflow.submit_initiative(
        curator_free,
        {"title": "Titre proposé en attente"},
        initiative=initiative,
        token=workflow.edit_token(initiative),
    )
    assert revision.state.value == "proposed"
    records = json.loads(_collect(export.stream("initiatives", "json", [initiative.id], BASE)))
    assert records[0]["titre"].startswith("=HYPERLINK")


@pytest.mark.parametrize("kind", ["initiatives", "organisations"])
def test_opendata_csv_validates_against_its_table_schema(catalogue, tmp_path, kind):
    import frictionless  # a test dependency; imported here, it is slow to load

    export.write_opendata(tmp_path, base_url=BASE)
    descriptor = json.loads((SCHEMAS / f"{kind}.schema.json").read_text(encoding="utf-8"))
    assert [f["name"] for f in descriptor["fields"]] == list(export.fields_of(kind))
    resource = frictionless.Resource(
        path=f"{kind}.csv",
        basepath=str(tmp_path),
        schema=frictionless.Schema.from_descriptor(descriptor),
    )
    report = frictionless.validate(resource)
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    assert report.tasks[0].stats["rows"] >= 1


def test_schema_rejects_a_broken_file(tmp_path):
    """The schema is strict enough to catch a bad stage, INSEE code or missing title."""
    import frictionless

    descriptor = json.loads((SCHEMAS / "initiatives.schema.json").read_text(encoding="utf-8"))
    header = ",".join(export.INITIATIVE_FIELDS)
    values = dict.fromkeys(export.INITIATIVE_FIELDS, "")
    values.update(
        identifiant="a-b",
        url="https://x.example/initiatives/a-b",
        titre="",
        etape="inconnue",
        communes="1305|13055",
        date_creation="2024-01-01T00:00:00",
        date_mise_a_jour="2024-01-01T00:00:00",
        donnees_de_demonstration="false",
    )
    (tmp_path / "bad.csv").write_text(header + "\n" + ",".join(values.values()) + "\n")
    report = frictionless.validate(
        frictionless.Resource(
            path="bad.csv",
            basepath=str(tmp_path),
            schema=frictionless.Schema.from_descriptor(descriptor),
        )
    )
    errors = {field for (field,) in report.flatten(["fieldName"])}
    assert {"titre", "etape", "communes"} <= errors


def test_current_release_follows_database_changes(catalogue):
    first = export.current_release()
    assert export.current_release().generated_at == first.generated_at
    assert export.read_release().stamp == first.stamp
    initiative = db.session.get(Initiative, catalogue["initiative_id"])
    initiative.title = f"Nouveau titre {unique('t')}"
    db.session.commit()
    assert export.catalogue_stamp() != first.stamp
    second = export.current_release()
    assert second.stamp != first.stamp
    rows = _csv_rows((second.directory / "initiatives.csv").read_bytes())
    assert initiative.title in {row["titre"] for row in rows}


def test_the_served_release_links_to_the_public_address(catalogue):
    """Files written for another address (``export opendata --base-url``) are not served."""
    export.write_opendata(base_url="https://ailleurs.example.org")
    release = export.current_release()
    assert release.base_url == "http://localhost"  # PUBLIC_URL unset: the test client's host
    rows = _csv_rows((release.directory / "initiatives.csv").read_bytes())
    assert rows and all(row["url"].startswith("http://localhost/initiatives/") for row in rows)


def test_stamp_changes_when_a_theme_is_swapped(catalogue):
    before = export.catalogue_stamp()
    initiative = db.session.get(Initiative, catalogue["initiative_id"])
    initiative.themes = [make_theme(slug="autre-theme-test")]
    db.session.commit()
    assert export.catalogue_stamp() != before


def test_file_names_are_dated():
    from datetime import date

    day = date(2026, 3, 4)
    assert export.file_name("initiatives", "csv", day) == "annuaire-initiatives-2026-03-04.csv"
    assert (
        export.file_name("organisations", "excel-csv", day)
        == "annuaire-organisations-2026-03-04-excel.csv"
    )
    assert (
        export.file_name("initiatives", "geojson", day, prefix="recherche-")
        == "annuaire-recherche-initiatives-2026-03-04.geojson"
    )
