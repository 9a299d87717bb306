"""Staff import pages: upload → dry run → mapping → confirm; access, CSRF, bad input; CLI."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from factories import make_organisation, make_user

from directory.extensions import db
from directory.models import AuditLog, ImportMapping, Initiative, Role

DATA = Path(__file__).resolve().parent.parent / "data" / "import"


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


@pytest.fixture
def people(app):
    with app.app_context():
        curator = make_user(role=Role.CURATOR, email="curatrice@example.org")
        partner = make_user(organisation=make_organisation(), email="partenaire@example.org")
        other = make_user(role=Role.CURATOR)
        db.session.commit()
        return {"curator": curator, "partner": partner, "other": other}


def count_initiatives(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Initiative))


def upload(client, csrf_token, name, data=None, kind="initiative", **extra):
    form = {
        "csrf_token": csrf_token(client),
        "kind": kind,
        "file": (io.BytesIO(read(name) if data is None else data), name),
        **extra,
    }
    return client.post("/gestion/import", data=form, content_type="multipart/form-data")


def token_of(response) -> str:
    match = re.search(r"/gestion/import/([A-Za-z0-9_-]+)$", response.headers["Location"])
    assert match, response.headers.get("Location")
    return match.group(1)


def test_anonymous_is_sent_to_sign_in_and_partner_gets_403(client, sign_in, people, csrf_token):
    for url in ("/gestion/import", "/gestion/import/" + "a" * 24):
        response = client.get(url)
        assert response.status_code == 302 and "/connexion" in response.headers["Location"]
    sign_in(client, people["partner"])
    token = csrf_token(client)
    assert client.get("/gestion/import").status_code == 403
    assert client.get("/gestion/import/" + "a" * 24).status_code == 403
    for url in (
        "/gestion/import",
        "/gestion/import/" + "a" * 24 + "/correspondance",
        "/gestion/import/" + "a" * 24 + "/importer",
    ):
        assert client.post(url, data={"csrf_token": token}).status_code == 403


def test_upload_dry_run_then_confirm(app, client, sign_in, people, csrf_token):
    sign_in(client, people["curator"])
    page = client.get("/gestion/import")
    assert page.status_code == 200 and "Importer un fichier" in page.text
    assert 'href="/gestion/import"' in client.get("/gestion/").text
    before = count_initiatives(app)
    response = upload(client, csrf_token, "initiatives_cp1252_semicolon.csv")
    assert response.status_code == 302
    token = token_of(response)
    report = client.get(f"/gestion/import/{token}")
    assert report.status_code == 200
    assert "Vérification du fichier" in report.text
    assert "Épicerie solidaire du Panier" in report.text
    assert "Commune trouvée : Marseille (13)" in report.text
    assert count_initiatives(app) == before
    # Without the CSRF token the confirmation is refused.
    assert client.post(f"/gestion/import/{token}/importer").status_code == 400
    assert count_initiatives(app) == before
    done = client.post(f"/gestion/import/{token}/importer", data={"csrf_token": csrf_token(client)})
    assert done.status_code == 302
    result = client.get(done.headers["Location"])
    assert "Import terminé : 3 création(s)" in result.text
    assert "Résultat de l’import" in result.text and "Importer 3" not in result.text
    assert count_initiatives(app) == before + 3
    with app.app_context():
        assert db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "import.run"))
    # A second confirmation does not import again.
    again = client.post(
        f"/gestion/import/{token}/importer", data={"csrf_token": csrf_token(client)}
    )
    assert "déjà été importé" in client.get(again.headers["Location"]).text
    assert count_initiatives(app) == before + 3


def test_errors_block_the_import_unless_only_valid_is_chosen(
    app, client, sign_in, people, csrf_token
):
    sign_in(client, people["curator"])
    token = token_of(upload(client, csrf_token, "initiatives_errors.csv"))
    report = client.get(f"/gestion/import/{token}?lignes=refusees")
    assert "Commune introuvable : « Trifouillis-les-Oies »" in report.text
    assert "commence par « = »" in report.text
    assert "Importer seulement les lignes valides" in report.text
    before = count_initiatives(app)
    refused = client.post(
        f"/gestion/import/{token}/importer", data={"csrf_token": csrf_token(client)}
    )
    assert "Rien n&#39;a été importé" in client.get(refused.headers["Location"]).text
    assert count_initiatives(app) == before
    client.post(
        f"/gestion/import/{token}/importer",
        data={"csrf_token": csrf_token(client), "seulement_valides": "oui"},
    )
    assert count_initiatives(app) == before + 1


def test_mapping_edited_saved_and_reused(app, client, sign_in, people, csrf_token):
    sign_in(client, people["curator"])
    data = "Intitulé du projet;Ville\r\nAtelier vélo;Nice\r\n".encode()
    token = token_of(upload(client, csrf_token, "reseau.csv", data=data))
    report = client.get(f"/gestion/import/{token}")
    assert "Aucune colonne ne donne le champ « Titre »" in report.text
    response = client.post(
        f"/gestion/import/{token}/correspondance",
        data={
            "csrf_token": csrf_token(client),
            "colonne-0": "title",
            "colonne-1": "commune",
            "nom_modele": "Tableur du réseau vélo",
        },
    )
    assert response.status_code == 302
    report = client.get(f"/gestion/import/{token}")
    assert "Atelier vélo" in report.text and "Créées" in report.text
    with app.app_context():
        saved = db.session.scalar(sa.select(ImportMapping))
        assert saved.name == "Tableur du réseau vélo"
        assert saved.columns == {"Intitulé du projet": "title", "Ville": "commune"}
        choice = f"initiative:{saved.id}"
    assert "Tableur du réseau vélo" in client.get("/gestion/import").text
    token = token_of(upload(client, csrf_token, "reseau2.csv", data=data, saved_mapping=choice))
    assert "Commune trouvée : Nice (06)" in client.get(f"/gestion/import/{token}").text
    # A mapping of the other kind is refused for this file.
    wrong = upload(
        client, csrf_token, "r.csv", data=data, kind="organisation", saved_mapping=choice
    )
    assert wrong.status_code == 400 and "ne correspond pas" in wrong.text


def test_pending_import_is_private_to_its_curator(client, sign_in, people, csrf_token):
    sign_in(client, people["curator"])
    token = token_of(upload(client, csrf_token, "initiatives_utf8_comma.csv"))
    sign_in(client, people["other"])
    assert client.get(f"/gestion/import/{token}").status_code == 404
    response = client.post(
        f"/gestion/import/{token}/importer", data={"csrf_token": csrf_token(client)}
    )
    assert response.status_code == 404
    assert client.get("/gestion/import/..%2F..%2Fetc").status_code == 404
    assert client.get("/gestion/import/pas-un-jeton").status_code == 404


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty.csv", "Le fichier est vide."),
        ("garbage.csv", "binaire"),
        ("shift_jis.csv", "Encodage du fichier non reconnu"),
        ("duplicate_headings.csv", "apparaît deux fois"),
        ("not_really.xlsx", "XLSX illisible"),
    ],
)
def test_broken_files_show_a_message(client, sign_in, people, csrf_token, name, message):
    sign_in(client, people["curator"])
    token = token_of(upload(client, csrf_token, name))
    page = client.get(f"/gestion/import/{token}")
    assert page.status_code == 200 and message in page.text
    assert "Ce fichier ne peut pas être importé" in page.text


def test_bad_uploads_are_form_errors(client, sign_in, people, csrf_token):
    sign_in(client, people["curator"])
    response = client.post(
        "/gestion/import", data={"csrf_token": csrf_token(client), "kind": "initiative"}
    )
    assert response.status_code == 400 and "Choisissez un fichier" in response.text
    response = upload(client, csrf_token, "virus.exe", data=b"MZ\x90\x00")
    assert response.status_code == 400 and "CSV ou XLSX" in response.text
    response = upload(client, csrf_token, "a.csv", data=b"Titre\r\nA\r\n", kind="<script>")
    assert response.status_code == 400
    response = client.post("/gestion/import", data={"kind": "initiative"})
    assert response.status_code == 400  # no CSRF token


def test_upload_over_the_request_limit_gets_the_french_413_page(
    client, sign_in, people, csrf_token
):
    sign_in(client, people["curator"])
    big = b"Titre,Commune\r\n" + b"x" * (17 * 1024 * 1024)
    response = upload(client, csrf_token, "gros.csv", data=big)
    assert response.status_code == 413
    assert "Fichier trop volumineux" in response.text


def test_import_limit_setting_is_applied(app, client, sign_in, people, csrf_token):
    app.config["IMPORT_MAX_BYTES"] = 1000
    sign_in(client, people["curator"])
    token = token_of(upload(client, csrf_token, "long_cell.csv"))
    assert "la limite est de" in client.get(f"/gestion/import/{token}").text


def test_pagination_of_long_reports(client, sign_in, people, csrf_token):
    sign_in(client, people["curator"])
    rows = "".join(f"Projet numéro {number},Nice\r\n" for number in range(120))
    token = token_of(
        upload(client, csrf_token, "long.csv", data=("Titre,Commune\r\n" + rows).encode())
    )
    first = client.get(f"/gestion/import/{token}")
    assert "Projet numéro 0<" in first.text and "Projet numéro 60<" not in first.text
    third = client.get(f"/gestion/import/{token}?page=3")
    assert "Projet numéro 119<" in third.text
    assert client.get(f"/gestion/import/{token}?page=abc&lignes=<x>").status_code == 200


# -- CLI --------------------------------------------------------------------------------------


def test_cli_dry_run_then_import(app, runner, people):
    path = str(DATA / "initiatives_utf8_comma.csv")
    before = count_initiatives(app)
    result = runner.invoke(args=["import", path, "--dry-run", "--as", "curatrice@example.org"])
    assert result.exit_code == 0, result.output
    assert "créations : 3" in result.output and "rien n'a été écrit" in result.output
    assert count_initiatives(app) == before
    result = runner.invoke(args=["import", path, "--as", "curatrice@example.org"])
    assert result.exit_code == 0, result.output
    assert "Import terminé" in result.output
    assert count_initiatives(app) == before + 3
    again = runner.invoke(args=["import", path, "--as", "curatrice@example.org"])
    assert "inchangées : 3" in again.output and count_initiatives(app) == before + 3


def test_cli_errors_exit_non_zero_and_write_nothing(app, runner, people, tmp_path):
    path = str(DATA / "initiatives_errors.csv")
    before = count_initiatives(app)
    result = runner.invoke(args=["import", path, "--as", "curatrice@example.org"])
    assert result.exit_code == 1
    assert "ligne 4 : Commune introuvable" in result.output
    assert count_initiatives(app) == before
    result = runner.invoke(args=["import", path, "--only-valid", "--as", "curatrice@example.org"])
    assert count_initiatives(app) == before + 1
    broken = runner.invoke(
        args=["import", str(DATA / "garbage.csv"), "--as", "curatrice@example.org"]
    )
    assert broken.exit_code == 1 and "binaire" in broken.output
    refused = runner.invoke(args=["import", path, "--as", "partenaire@example.org"])
    assert refused.exit_code != 0 and "n'est pas un compte actif de l'équipe" in refused.output


def test_cli_mapping_from_json_file_and_saved_name(app, runner, people, tmp_path):
    source = tmp_path / "reseau.csv"
    source.write_text("Intitulé;Ville\r\nAtelier couture;Toulon\r\n", encoding="utf-8")
    mapping = tmp_path / "colonnes.json"
    mapping.write_text(json.dumps({"Intitulé": "title", "Ville": "commune"}), encoding="utf-8")
    result = runner.invoke(
        args=["import", str(source), "--dry-run", "--mapping", str(mapping), "--as",
              "curatrice@example.org"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Intitulé → title" in result.output
    unknown = runner.invoke(
        args=["import", str(source), "--mapping", "Inconnu", "--as", "curatrice@example.org"]
    )
    assert unknown.exit_code != 0 and "Aucun modèle" in unknown.output


def test_cli_bulk_import_rebuilds_the_index(app, runner, people, tmp_path, monkeypatch):
    from directory import cli_exchange

    monkeypatch.setattr(cli_exchange, "BULK_ROWS", 1)
    source = tmp_path / "lot.csv"
    source.write_text(
        "Titre,Commune\r\nBibliothèque de rue zéphyrine,Nice\r\nRecyclerie,Toulon\r\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["import", str(source), "--as", "curatrice@example.org"])
    assert result.exit_code == 0, result.output
    assert "Index reconstruit" in result.output
    with app.test_request_context():
        assert "zéphyrine" in app.test_client().get("/recherche?q=zephyrine").text
