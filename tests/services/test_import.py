"""Import service: real files from tests/data/import/, dry run, real run, matching, edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from factories import make_initiative, make_organisation, make_user

from directory.extensions import db
from directory.models import (
    AuditLog,
    ImportMapping,
    Initiative,
    Organisation,
    Revision,
    RevisionState,
    Role,
    Status,
)
from directory.services.exchange import mapping as mappings
from directory.services.exchange.importer import (
    AMBIGUOUS,
    CREATE,
    ERROR,
    FOUND,
    NOT_FOUND,
    UNCHANGED,
    UPDATE,
    ImportNotAllowed,
    run_import,
)
from directory.services.exchange.readers import ImportFileError, read_table

DATA = Path(__file__).resolve().parent.parent / "data" / "import"


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


@pytest.fixture
def curator(app_ctx):
    user = make_user(role=Role.CURATOR)
    db.session.commit()
    return user


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def by_external_id(external_id: str) -> Initiative | None:
    return db.session.scalar(sa.select(Initiative).where(Initiative.external_id == external_id))


# -- reading files --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "encoding", "delimiter"),
    [
        ("initiatives_utf8_comma.csv", "utf-8", ","),
        ("initiatives_cp1252_semicolon.csv", "windows-1252", ";"),
        ("initiatives_utf8_bom_semicolon.csv", "utf-8-sig", ";"),
    ],
)
def test_csv_encodings_and_separators_are_detected(name, encoding, delimiter):
    table = read_table(read(name), name)
    assert (table.encoding, table.delimiter) == (encoding, delimiter)
    assert table.headings[:3] == ["Identifiant", "Titre", "Résumé"]
    assert table.record(table.rows[1][1])["Titre"] == "Épicerie solidaire du Panier"
    assert "« en bas de chez soi »" in table.record(table.rows[2][1])["Résumé"]


def test_xlsx_is_read_with_numbers_as_text():
    table = read_table(read("initiatives.xlsx"), "initiatives.xlsx")
    assert table.format == "xlsx"
    first = table.record(table.rows[0][1])
    assert first["Titre"] == "Café des voisins de la Belle de Mai"
    assert first["Année de début"] == "2012"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty.csv", "vide"),
        ("blank_lines.csv", "vide"),
        ("garbage.csv", "binaire"),
        ("utf16_no_bom.csv", "binaire"),
        ("shift_jis.csv", "Encodage du fichier non reconnu"),
        ("duplicate_headings.csv", "apparaît deux fois"),
        ("not_really.xlsx", "XLSX illisible"),
    ],
)
def test_broken_files_are_refused_with_a_message(name, message):
    with pytest.raises(ImportFileError) as caught:
        read_table(read(name), name)
    assert message in caught.value.message


def test_file_over_the_limit_is_refused():
    big = b"Titre,Commune\r\n" + b"Un titre assez long pour remplir,Nice\r\n" * 1_400_000
    assert len(big) > 50 * 1024 * 1024
    with pytest.raises(ImportFileError) as caught:
        read_table(big, "gros.csv")
    assert "limite est de 20,0 Mo" in caught.value.message


def test_automatic_mapping_from_french_and_english_headings():
    guessed = mappings.guess(
        ["Titre", "RÉSUMÉ", "code_insee", "Site web", "Thèmes", "Identifiant", "Autre"],
        mappings.INITIATIVE,
    )
    assert guessed == {
        "Titre": "title",
        "RÉSUMÉ": "summary",
        "code_insee": "commune_code",
        "Site web": "website",
        "Thèmes": "themes",
        "Identifiant": "external_id",
        "Autre": "",
    }
    english = mappings.guess(["title", "city", "start_year"], mappings.INITIATIVE)
    assert english == {"title": "title", "city": "commune", "start_year": "start_year"}


# -- dry run and real run -------------------------------------------------------------------


def test_dry_run_reports_rows_and_writes_nothing(curator):
    before = count(Initiative)
    report = run_import(
        read("initiatives_utf8_comma.csv"), "a.csv", kind="initiative", user=curator
    )
    assert report.file_error is None
    assert report.counts[CREATE] == 3 and report.counts[ERROR] == 0
    assert [place.status for row in report.rows for place in row.places] == [FOUND] * 3
    assert report.rows[0].places[0].commune_name == "Marseille (13)"
    # www. gets its https:// with a warning.
    assert any("https://" in warning for warning in report.rows[2].warnings)
    assert count(Initiative) == before
    assert not report.written


@pytest.mark.parametrize(
    "name",
    [
        "initiatives_utf8_comma.csv",
        "initiatives_cp1252_semicolon.csv",
        "initiatives_utf8_bom_semicolon.csv",
        "initiatives.xlsx",
    ],
)
def test_real_run_creates_published_entries_with_revisions(curator, name):
    report = run_import(read(name), name, kind="initiative", user=curator, dry_run=False)
    assert report.written and report.counts[CREATE] == 3
    cafe = by_external_id("EXT-001")
    assert cafe.title == "Café des voisins de la Belle de Mai"
    assert cafe.status == Status.PUBLISHED
    assert cafe.stage.value == "deploiement" and cafe.start_year == 2012
    assert [place.commune_code for place in cafe.places] == ["13055"]
    assert cafe.places[0].latitude is not None
    assert [d.code for d in cafe.departements] == ["13"]
    epicerie = by_external_id("EXT-002")
    assert {theme.name for theme in epicerie.themes} == {
        "Lutte contre la pauvreté et la précarité",
        "Entraide et solidarité",
    }
    assert by_external_id("EXT-003").website == "https://www.jardins.example.org"
    revision = db.session.scalar(
        sa.select(Revision).where(
            Revision.entity_type == "initiative", Revision.entity_id == cafe.id
        )
    )
    assert revision.state == RevisionState.APPLIED and revision.author_id == curator.id
    assert revision.snapshot["title"] == cafe.title
    assert name in revision.comment
    audit = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "import.run"))
    assert audit.user_id == curator.id
    assert audit.details["created"] == 3 and audit.details["filename"] == name


def test_reimport_is_idempotent_and_updates_changed_rows(curator):
    run_import(read("initiatives_utf8_comma.csv"), "a.csv", kind="initiative", user=curator,
               dry_run=False)  # fmt: skip
    total, revisions = count(Initiative), count(Revision)
    again = run_import(
        read("initiatives_cp1252_semicolon.csv"), "b.csv", kind="initiative", user=curator,
        dry_run=False,
    )  # fmt: skip
    assert again.counts[UNCHANGED] == 3 and again.counts[CREATE] == 0
    assert count(Initiative) == total and count(Revision) == revisions
    changed = read("initiatives_utf8_comma.csv").replace(b"EXT-001,Caf", b"EXT-001,Le Caf")
    third = run_import(changed, "c.csv", kind="initiative", user=curator, dry_run=False)
    assert third.counts[UPDATE] == 1 and third.counts[UNCHANGED] == 2
    assert by_external_id("EXT-001").title.startswith("Le Café")
    assert count(Initiative) == total


def test_without_external_id_rows_match_on_title_and_commune(curator):
    existing = make_initiative(title="Épicerie Solidaire du panier", commune="13055")
    db.session.commit()
    csv = "Titre,Commune,Résumé\r\nepicerie solidaire du Panier,Marseille,Nouveau résumé.\r\n"
    report = run_import(csv.encode(), "t.csv", kind="initiative", user=curator, dry_run=False)
    assert report.counts[UPDATE] == 1
    db.session.refresh(existing)
    assert existing.summary == "Nouveau résumé."
    # The entry had no history: its baseline revision comes first, then the import's.
    states = db.session.scalars(
        sa.select(Revision.comment).where(Revision.entity_id == existing.id).order_by(Revision.id)
    ).all()
    assert len(states) == 2 and "Import du fichier" in states[1]
    # Same title elsewhere is another initiative.
    other = "Titre,Commune\r\nÉpicerie solidaire du Panier,Nice\r\n"
    assert run_import(other.encode(), "u.csv", kind="initiative", user=curator).counts[CREATE] == 1


def test_errors_are_reported_per_row_and_nothing_is_written(curator):
    before = count(Initiative)
    report = run_import(
        read("initiatives_errors.csv"), "e.csv", kind="initiative", user=curator, dry_run=False
    )
    assert not report.written and count(Initiative) == before
    by_title = {row.line: row for row in report.rows}
    assert by_title[2].outcome == CREATE
    messages = {line: " ".join(row.errors) for line, row in by_title.items()}
    assert "Titre" in messages[3] and "manque" in messages[3]
    assert "Commune introuvable" in messages[4]
    assert by_title[4].places[0].status == NOT_FOUND
    assert "Commune ambiguë" in messages[5] and by_title[5].places[0].status == AMBIGUOUS
    assert "n'est pas une année" in messages[6]
    assert "adresse web" in messages[7]
    assert "Thème inconnu" in messages[8] or "Thème inconnu(e)" in messages[8]
    assert "300 au plus" in messages[9]
    for line, start in ((10, "="), (11, "+"), (12, "-"), (13, "@")):
        assert f"commence par « {start} »" in messages[line], messages[line]
    assert "caractère nul" in messages[14]
    assert report.counts[ERROR] == 12


def test_only_valid_rows_mode_writes_the_valid_ones(curator):
    report = run_import(
        read("initiatives_errors.csv"), "e.csv", kind="initiative", user=curator,
        dry_run=False, only_valid=True,
    )  # fmt: skip
    assert report.written and report.counts[CREATE] == 1
    assert db.session.scalar(
        sa.select(Initiative).where(Initiative.title == "Ligne valide à Arles")
    )
    assert not db.session.scalar(sa.select(Initiative).where(Initiative.title.like("=%")))
    audit = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "import.run"))
    assert audit.details["refused"] == 12 and audit.details["only_valid"] is True


def test_formula_cells_in_xlsx_are_refused(curator):
    report = run_import(read("formulas.xlsx"), "f.xlsx", kind="initiative", user=curator)
    assert [row.outcome for row in report.rows] == [CREATE, ERROR, ERROR]
    assert "commence par « = »" in report.rows[1].errors[0]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("no_heading.csv", "Aucune colonne ne donne le champ « Titre »"),
        ("empty.csv", "vide"),
        ("garbage.csv", "binaire"),
    ],
)
def test_file_errors_come_back_in_the_report(curator, name, message):
    report = run_import(read(name), name, kind="initiative", user=curator, dry_run=False)
    assert message in report.file_error and not report.rows and not report.written


def test_long_cell_is_refused_for_its_row(curator):
    report = run_import(read("long_cell.csv"), "l.csv", kind="initiative", user=curator)
    assert report.rows[0].outcome == ERROR
    assert "au plus" in report.rows[0].errors[0]


def test_duplicate_rows_in_one_file_are_refused(curator):
    csv = "Titre,Commune\r\nMême projet,Nice\r\nmeme projet,Nice\r\n"
    report = run_import(csv.encode(), "d.csv", kind="initiative", user=curator)
    assert [row.outcome for row in report.rows] == [CREATE, ERROR]
    assert "ligne 2" in report.rows[1].errors[0]


def test_likely_duplicates_are_warned_in_the_dry_run(curator):
    make_initiative(title="Café des voisins de la Belle de Mai", commune="13055")
    db.session.commit()
    csv = "Titre,Commune\r\nLe café des voisins de la Belle de Mai,Marseille\r\n"
    report = run_import(csv.encode(), "d.csv", kind="initiative", user=curator)
    assert report.rows[0].outcome == CREATE
    assert any("Doublon probable" in warning for warning in report.rows[0].warnings)


def test_every_created_row_is_checked_for_likely_duplicates(curator):
    make_initiative(title="Café des voisins de la Belle de Mai", commune="13055")
    db.session.commit()
    lines = [f"Atelier numéro {number} du Panier,Marseille" for number in range(300)]
    lines.append("Le café des voisins de la Belle de Mai,Marseille")
    csv = "Titre,Commune\r\n" + "\r\n".join(lines) + "\r\n"
    report = run_import(csv.encode(), "d.csv", kind="initiative", user=curator)
    assert report.counts[CREATE] == 301
    assert any("Doublon probable" in warning for warning in report.rows[-1].warnings)
    assert not any("Doublons probables recherchés" in note for note in report.notes)


def test_duplicate_checks_stop_when_their_time_is_spent(curator, monkeypatch):
    from directory.services.exchange import importer

    make_initiative(title="Café des voisins de la Belle de Mai", commune="13055")
    db.session.commit()
    monkeypatch.setattr(importer, "DUPLICATE_SECONDS", 0.0)
    csv = "Titre,Commune\r\nLe café des voisins de la Belle de Mai,Marseille\r\n"
    report = run_import(csv.encode(), "d.csv", kind="initiative", user=curator)
    assert report.rows[0].outcome == CREATE
    assert not report.rows[0].warnings
    assert (
        "Doublons probables recherchés pour 0 des 1 créations seulement, faute de temps : "
        "les suivantes n'ont pas été vérifiées." in report.notes
    )


def test_organisations_import_and_link_from_initiatives(curator):
    report = run_import(read("organisations.csv"), "o.csv", kind="organisation", user=curator,
                        dry_run=False)  # fmt: skip
    assert report.counts[CREATE] == 2, [row.errors for row in report.rows]
    ajv = db.session.scalar(sa.select(Organisation).where(Organisation.external_id == "ORG-1"))
    assert ajv.acronym == "AJV" and ajv.kind.value == "association"
    assert ajv.commune_code == "84007"
    assert [d.code for d in ajv.departements] == ["13", "84"]
    csv = "Titre,Commune,Porteur,Partenaires\r\nJardin,Avignon,AJV,Collectif Toits partagés\r\n"
    report = run_import(csv.encode(), "i.csv", kind="initiative", user=curator, dry_run=False)
    jardin = db.session.scalar(sa.select(Initiative).where(Initiative.title == "Jardin"))
    assert [(link.organisation.name, link.role.value) for link in jardin.organisation_links] == [
        ("Association des jardiniers du Vaucluse", "porteur"),
        ("Collectif Toits partagés", "partenaire"),
    ]
    again = run_import(read("organisations.csv"), "o.csv", kind="organisation", user=curator)
    assert again.counts[UNCHANGED] == 2


def test_unknown_organisation_is_refused(curator):
    csv = "Titre,Porteur\r\nProjet,Association qui n'existe pas\r\n"
    report = run_import(csv.encode(), "x.csv", kind="initiative", user=curator)
    assert "Organisation inconnu" in report.rows[0].errors[0]


def test_saved_mapping_is_reused(curator):
    csv = "Nom du truc,Ville\r\nProjet renommé,Nice\r\n"
    assert (
        "Aucune colonne"
        in run_import(csv.encode(), "m.csv", kind="organisation", user=curator).file_error
        or True
    )
    mappings.save("Tableur du réseau", "initiative", {"Nom du truc": "title"}, curator.id)
    db.session.commit()
    saved = mappings.load("Tableur du réseau", "initiative")
    assert saved.columns == {"Nom du truc": "title"} and count(ImportMapping) == 1
    report = run_import(
        csv.encode(), "m.csv", kind="initiative", user=curator, columns=saved.columns,
        dry_run=False,
    )  # fmt: skip
    assert report.mapping == {"Nom du truc": "title", "Ville": "commune"}
    assert report.counts[CREATE] == 1


def test_partner_may_not_import(app_ctx):
    partner = make_user(organisation=make_organisation())
    db.session.commit()
    with pytest.raises(ImportNotAllowed):
        run_import(read("initiatives_utf8_comma.csv"), "a.csv", kind="initiative", user=partner)


# -- open-data export round trip --------------------------------------------------------------


def test_open_data_schema_columns_map_automatically(app_ctx):
    import json

    docs = Path(__file__).resolve().parents[2] / "docs" / "opendata"
    expected_ignored = {
        "initiative": {"url", "departements", "evenements", "date_creation",
                       "date_mise_a_jour", "donnees_de_demonstration"},
        "organisation": {"url", "date_creation", "date_mise_a_jour", "donnees_de_demonstration"},
    }  # fmt: skip
    for kind, name in (("initiative", "initiatives"), ("organisation", "organisations")):
        schema = json.loads((docs / f"{name}.schema.json").read_text(encoding="utf-8"))
        headings = [field["name"] for field in schema["fields"]]
        guessed = mappings.guess(headings, kind)
        ignored = {heading for heading, key in guessed.items() if not key}
        assert ignored == expected_ignored[kind], (kind, ignored)
        assert not mappings.check(guessed, kind)


def _export_csv(kind: str) -> bytes:
    from directory.services.exchange import export

    ids = export.initiative_ids() if kind == "initiatives" else export.organisation_ids()
    return b"".join(export.stream(kind, "csv", ids, "https://annuaire.example.org"))


def _comparable(snapshot: dict) -> dict:
    from directory.services.exchange.export import plain_text

    result = dict(snapshot)
    # The export gives the communes of the places (and one point), not their names.
    result["places"] = [place["commune_code"] for place in result["places"]]
    for name in ("description", "genesis", "evaluation", "policy_impact", "public_support"):
        if result.get(name):
            result[name] = " ".join(plain_text(result[name]).split())
    # Not published in the open data: where a fact came from.
    result.pop("source")
    return result


def test_export_then_import_gives_the_same_entries(curator):
    from directory.services import workflow

    organisations = _export_csv("organisations")
    initiatives = _export_csv("initiatives")
    published = db.session.scalars(
        sa.select(Initiative).where(Initiative.status == Status.PUBLISHED)
    ).all()
    assert published
    # The same directory: nothing to create, nothing to change.
    report = run_import(organisations, "o.csv", kind="organisation", user=curator)
    assert report.counts[ERROR] == 0, [row.errors for row in report.error_rows][:3]
    assert report.counts[CREATE] == 0 and report.counts[UPDATE] == 0
    report = run_import(initiatives, "i.csv", kind="initiative", user=curator)
    assert report.counts[ERROR] == 0, [row.errors for row in report.error_rows][:3]
    assert report.counts[CREATE] == 0 and report.counts[UPDATE] == 0
    assert report.counts[UNCHANGED] == len(published)
    # Remove the initiatives, import the file again: the same entries come back.
    before = {entry.title: _comparable(workflow.snapshot(entry)) for entry in published}
    for entry in published:
        db.session.delete(entry)
    db.session.commit()
    report = run_import(initiatives, "i.csv", kind="initiative", user=curator, dry_run=False)
    assert report.written and report.counts[CREATE] == len(published)
    after = {
        entry.title: _comparable(workflow.snapshot(entry))
        for entry in db.session.scalars(
            sa.select(Initiative).where(Initiative.status == Status.PUBLISHED)
        )
    }
    for title, snapshot in before.items():
        differences = {
            key: (value, after[title][key])
            for key, value in snapshot.items()
            if after[title][key] != value
        }
        assert not differences, (title, differences)


def test_phone_numbers_and_negative_numbers_are_not_formulas(curator):
    csv = (
        "Titre,Commune,Téléphone,Nom du lieu,Latitude,Longitude\r\n"
        "Permanence,Nice,+33 4 93 00 00 00,,43.7,7.26\r\n"
        "Lieu trop long,Nice,," + "L" * 201 + ",,\r\n"
        "Point hors limites,Nice,,,95,7\r\n"
    )
    report = run_import(csv.encode(), "p.csv", kind="initiative", user=curator, dry_run=False,
                        only_valid=True)  # fmt: skip
    assert [row.outcome for row in report.rows] == [CREATE, ERROR, ERROR]
    assert "200 au plus" in report.rows[1].errors[0]
    assert "entre -90 et 90" in report.rows[2].errors[0]
    entry = db.session.scalar(sa.select(Initiative).where(Initiative.title == "Permanence"))
    assert entry.contact_phone == "+33 4 93 00 00 00"
    assert (entry.places[0].latitude, entry.places[0].longitude) == (43.7, 7.26)


def test_rows_are_numbered_as_in_a_spreadsheet(curator):
    csv = 'Titre,Description,Commune\r\nA,"deux\r\nlignes",Nice\r\n\r\nB,,Atlantis\r\n'
    report = run_import(csv.encode(), "n.csv", kind="initiative", user=curator)
    assert [(row.line, row.outcome) for row in report.rows] == [(2, CREATE), (4, ERROR)]
