"""Build the import test files (run once; the outputs are committed).

    .venv/bin/python tests/data/import/make_fixtures.py

Text files are written byte for byte (encodings and separators are what the tests are about);
XLSX files are made with openpyxl. Contents are invented test data.
"""

from __future__ import annotations

import random
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent

HEADINGS_FR = [
    "Identifiant",
    "Titre",
    "Résumé",
    "Commune",
    "Code INSEE",
    "Thèmes",
    "Stade",
    "Année de début",
    "Site web",
    "Porteur",
]

ROWS = [
    [
        "EXT-001",
        "Café des voisins de la Belle de Mai",
        "Un café associatif où les habitants s'entraident.",
        "Marseille",
        "13055",
        "Entraide et solidarité",
        "Déploiement",
        "2012",
        "https://cafe.example.org",
        "",
    ],
    [
        "EXT-002",
        "Épicerie solidaire du Panier",
        "Une épicerie à prix réduits, tenue par des bénévoles.",
        "Marseille",
        "",
        "Lutte contre la pauvreté et la précarité; Entraide et solidarité",
        "Expérimentation",
        "2015",
        "",
        "",
    ],
    [
        "EXT-003",
        "Jardins partagés d'Avignon",
        "Des parcelles cultivées ensemble, « en bas de chez soi ».",
        "Avignon",
        "84007",
        "Participation citoyenne",
        "Idée",
        "",
        "www.jardins.example.org",
        "",
    ],
]


def write_text(name: str, rows: list[list[str]], *, delimiter: str, encoding: str) -> None:
    def cell(value: str) -> str:
        if any(char in value for char in (delimiter, '"', "\n")):
            return '"' + value.replace('"', '""') + '"'
        return value

    text = "\r\n".join(delimiter.join(cell(value) for value in row) for row in rows) + "\r\n"
    (HERE / name).write_bytes(text.encode(encoding))


def xlsx(name: str, rows: list[list[object]], formulas: bool = False) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Initiatives"
    for row in rows:
        sheet.append(row)
    workbook.save(HERE / name)


def main() -> None:
    table = [HEADINGS_FR, *ROWS]
    write_text("initiatives_utf8_comma.csv", table, delimiter=",", encoding="utf-8")
    write_text("initiatives_cp1252_semicolon.csv", table, delimiter=";", encoding="cp1252")
    write_text("initiatives_utf8_bom_semicolon.csv", table, delimiter=";", encoding="utf-8-sig")
    xlsx(
        "initiatives.xlsx",
        [
            [*HEADINGS_FR[:7], "Année de début", *HEADINGS_FR[8:]],
            *[[*row[:7], int(row[7]) if row[7] else None, *row[8:]] for row in ROWS],
        ],
    )

    english = [
        [
            "external_id",
            "title",
            "summary",
            "city",
            "insee_code",
            "themes",
            "stage",
            "start_year",
            "website",
        ],
        [
            "EN-1",
            "Repair café de Nice",
            "Objects repaired together.",
            "Nice",
            "06088",
            "entraide-et-solidarite",
            "deploiement",
            "2014",
            "https://repair.example.org",
        ],
    ]
    write_text("initiatives_english_headings.csv", english, delimiter=",", encoding="utf-8")

    errors = [
        ["Titre", "Résumé", "Commune", "Thèmes", "Année de début", "Site web"],
        ["Ligne valide à Arles", "Résumé correct.", "Arles", "Numérique", "2010", ""],
        ["", "Titre manquant.", "Arles", "", "", ""],
        ["Commune inconnue", "", "Trifouillis-les-Oies", "", "", ""],
        ["Commune ambiguë", "", "Saint-André", "", "", ""],
        ["Mauvaise année", "", "Nice", "", "deux mille", ""],
        ["Mauvais site", "", "Nice", "", "", "ftp//pas-un-site"],
        ["Thème inconnu", "", "Nice", "Astronautique", "", ""],
        ["Résumé trop long", "x" * 301, "Nice", "", "", ""],
        ['=HYPERLINK("http://evil.example","Cliquez")', "", "Nice", "", "", ""],
        ["Commande", "+cmd|' /C calc'!A0", "Nice", "", "", ""],
        ["Calcul", "-2+3", "Nice", "", "", ""],
        ["Somme", "@SUM(A1:A2)", "Nice", "", "", ""],
        ["Octet nul", "avant\x00après", "Nice", "", "", ""],
    ]
    write_text("initiatives_errors.csv", errors, delimiter=",", encoding="utf-8")

    organisations = [
        [
            "Identifiant",
            "Nom",
            "Sigle",
            "Type de structure",
            "Commune",
            "Code postal",
            "Site web",
            "Départements d'action",
            "Thèmes",
        ],
        [
            "ORG-1",
            "Association des jardiniers du Vaucluse",
            "AJV",
            "Association",
            "Avignon",
            "84000",
            "https://ajv.example.org",
            "84; 13",
            "Participation citoyenne",
        ],
        ["ORG-2", "Collectif Toits partagés", "", "Collectif", "Toulon", "", "", "83", ""],
    ]
    write_text("organisations.csv", organisations, delimiter=";", encoding="utf-8")

    # Broken files.
    (HERE / "empty.csv").write_bytes(b"")
    (HERE / "blank_lines.csv").write_bytes(b"\r\n\r\n  \r\n")
    rng = random.Random(6)
    (HERE / "garbage.csv").write_bytes(bytes(rng.randrange(256) for _ in range(4096)))
    (HERE / "utf16_no_bom.csv").write_bytes("Titre,Commune\r\nCafé,Nice\r\n".encode("utf-16-le"))
    (HERE / "shift_jis.csv").write_bytes(
        "タイトル,コミューン\r\n地域のカフェ,ニース\r\n日本語の説明,マルセイユ\r\n".encode(
            "shift_jis"
        )
    )
    write_text("no_heading.csv", ROWS, delimiter=",", encoding="utf-8")
    write_text(
        "duplicate_headings.csv",
        [["Titre", "Commune", "titre"], ["A", "Nice", "B"]],
        delimiter=",",
        encoding="utf-8",
    )
    write_text(
        "long_cell.csv",
        [["Titre", "Commune", "Description"], ["Cellule très longue", "Nice", "mot " * 30_000]],
        delimiter=",",
        encoding="utf-8",
    )
    (HERE / "not_really.xlsx").write_bytes(
        b"PK\x03\x04" + bytes(rng.randrange(256) for _ in range(512))
    )
    xlsx(
        "formulas.xlsx",
        [
            ["Titre", "Commune", "Site web"],
            ["Ligne correcte", "Nice", "https://ok.example.org"],
            ['=HYPERLINK("http://evil.example","Cliquez ici")', "Nice", ""],
            ["Somme", "Nice", "=1+1"],
        ],
    )


if __name__ == "__main__":
    main()
