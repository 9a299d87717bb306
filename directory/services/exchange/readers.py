"""Reading spreadsheets: CSV (comma, semicolon or tab; UTF-8 or Windows-1252) and XLSX.

``read_table(data, filename)`` returns the heading row and the data rows as text, or raises
``ImportFileError`` with a French message when the file as a whole cannot be used (empty,
binary, unknown encoding, too large, no heading row, duplicated headings...). Cell-level
problems (formula injection, NUL bytes) are left to the importer, which reports them per row.

An XLSX file is a ZIP archive of XML documents, so it is checked as an archive before openpyxl
opens it (member count, total uncompressed size, compression ratio: zip bombs), and its XML is
parsed through defusedxml (openpyxl uses it when installed), which refuses entity declarations
("billion laughs") and external entities.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
MAX_COLUMNS = 200
# A cell longer than this is refused by the importer; the CSV reader accepts a little more
# so that it can report which row holds it instead of failing on the whole file.
MAX_CELL_CHARS = 100_000
_CSV_FIELD_LIMIT = 1_000_000
# Non-ASCII characters of Western European text (Windows-1252 letters, quotes, signs).
_WESTERN = frozenset(
    "àâäáãåæçéèêëíìîïñóòôöõøœúùûüýÿÀÂÄÁÃÅÆÇÉÈÊËÍÌÎÏÑÓÒÔÖÕØŒÚÙÛÜÝŸ«»’‘“”–—…€°²³ßµ·\xa0"
)
_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls and other OLE documents
# Bounds on an XLSX archive, read from its directory before anything is inflated (zipfile never
# inflates a member beyond the size its directory declares). A workbook has about ten members,
# its sheets compress 5 to 20 times, and the largest sheet the importer takes (MAX_ROWS rows of
# some twenty columns) is about 150 MB of XML.
XLSX_MAX_MEMBERS = 1_000
XLSX_MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
XLSX_MAX_RATIO = 200
# Small members (styles, themes) may compress oddly well; their ratio does not matter.
XLSX_RATIO_FROM_BYTES = 1024 * 1024
ACCEPTED_EXTENSIONS = (".csv", ".txt", ".xlsx")


class ImportFileError(Exception):
    """The file cannot be imported at all; the message (French) tells the user why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass
class Table:
    """A sheet as text: headings, then rows with their row number as a spreadsheet shows it."""

    headings: list[str]
    rows: list[tuple[int, list[str]]]
    format: str  # "csv" or "xlsx"
    encoding: str | None = None
    delimiter: str | None = None
    notes: list[str] = field(default_factory=list)

    def record(self, cells: list[str]) -> dict[str, str]:
        """One row as {heading: cell}, missing cells empty."""
        return {
            heading: (cells[index] if index < len(cells) else "")
            for index, heading in enumerate(self.headings)
        }


def read_table(data: bytes, filename: str = "", *, max_bytes: int = DEFAULT_MAX_BYTES) -> Table:
    """Parse an uploaded file into a ``Table`` (see the module docstring)."""
    if len(data) > max_bytes:
        raise ImportFileError(
            f"Le fichier pèse {_megabytes(len(data))} : la limite est de {_megabytes(max_bytes)}. "
            "Découpez-le en plusieurs fichiers."
        )
    if not data.strip():
        raise ImportFileError("Le fichier est vide.")
    name = (filename or "").lower()
    if data.startswith(_XLSX_MAGIC):
        table = _read_xlsx(data)
    elif data.startswith(_OLE_MAGIC) or name.endswith(".xls"):
        raise ImportFileError(
            "Les classeurs Excel 97-2003 (.xls) ne sont pas lus : enregistrez le fichier au "
            "format .xlsx ou CSV."
        )
    elif name.endswith(".xlsx"):
        raise ImportFileError("Ce fichier n'est pas un classeur XLSX valide.")
    else:
        table = _read_csv(data)
    return _checked(table)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} Mo".replace(".", ",")


# -- CSV ----------------------------------------------------------------------------------


def decode(data: bytes) -> tuple[str, str]:
    """The text of a CSV file and the encoding found: UTF-8 (with or without BOM),
    UTF-16 with a BOM, else Windows-1252; anything else is refused."""
    if data.startswith(b"\xef\xbb\xbf"):
        encoding, body = "utf-8-sig", data
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding, body = "utf-16", data
    else:
        if _looks_binary(data[:65536]):
            raise ImportFileError(
                "Ce fichier semble binaire (octets nuls ou de contrôle) : envoyez un fichier "
                "CSV ou XLSX."
            )
        encoding, body = "utf-8", data
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError:
        if encoding != "utf-8":
            raise ImportFileError(f"Le fichier n'est pas un texte {encoding} valide.") from None
        text, encoding = _decode_legacy(data)
    if _looks_binary(text[:65536].encode("utf-8", "replace")):
        raise ImportFileError(
            "Ce fichier semble binaire (octets nuls ou de contrôle) : envoyez un fichier "
            "CSV ou XLSX."
        )
    return text, encoding


def _looks_binary(sample: bytes) -> bool:
    """More than 1 % of control bytes (NUL included; tab and line ends excepted).

    A stray NUL in one cell is reported by the importer for that cell, not for the file.
    """
    if not sample:
        return False
    controls = sum(1 for byte in sample if byte < 0x20 and byte not in (9, 10, 13))
    return controls > max(3, len(sample) // 100)


def _decode_legacy(data: bytes) -> tuple[str, str]:
    """Windows-1252 when the bytes read as Western European text in it; refuse the rest.

    Nearly any byte string decodes in Windows-1252, so the text is judged: most of its
    non-ASCII characters must be letters and signs French text uses (é, à, ç, œ, «, ’...).
    """
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        extended = [char for char in text if ord(char) > 127]
        plausible = sum(1 for char in extended if char in _WESTERN)
        if not extended or plausible / len(extended) >= 0.6:
            return text, "windows-1252"
    detected = ""
    try:
        from charset_normalizer import from_bytes

        guess = from_bytes(data[:100_000]).best()
        if guess is not None:
            detected = f" (il semble encodé en {guess.encoding})"
    except Exception:  # the guess only improves the message
        detected = ""
    raise ImportFileError(
        f"Encodage du fichier non reconnu{detected}. Enregistrez-le en CSV UTF-8 ou "
        "Windows-1252 (« CSV séparateur point-virgule » d'Excel)."
    )


def sniff_delimiter(text: str) -> str:
    """Comma, semicolon or tab: the one found most often in the heading line, outside quotes."""
    first = text.split("\n", 1)[0]
    unquoted = re.sub(r'"[^"]*"', "", first)
    counts = {delimiter: unquoted.count(delimiter) for delimiter in (";", ",", "\t")}
    best = max(counts, key=lambda key: counts[key])
    return best if counts[best] else ","


def _read_csv(data: bytes) -> Table:
    text, encoding = decode(data)
    delimiter = sniff_delimiter(text)
    csv.field_size_limit(_CSV_FIELD_LIMIT)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    headings: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    try:
        # Rows are numbered as a spreadsheet shows them (a cell may span several lines).
        for line, cells in enumerate(reader, start=1):
            if headings is None:
                if not any(cell.strip() for cell in cells):
                    continue
                headings = cells
                continue
            if not any(cell.strip() for cell in cells):
                continue
            rows.append((line, cells))
            if len(rows) > MAX_ROWS:
                raise ImportFileError(
                    f"Le fichier compte plus de {MAX_ROWS:,} lignes : découpez-le.".replace(
                        ",", "\u202f"
                    )
                )
    except csv.Error as error:
        raise ImportFileError(
            f"Fichier CSV mal formé vers la ligne {reader.line_num} : une cellule est trop "
            "longue ou des guillemets ne sont pas refermés."
        ) from error
    if headings is None:
        raise ImportFileError("Le fichier est vide.")
    return Table(headings=headings, rows=rows, format="csv", encoding=encoding, delimiter=delimiter)


# -- XLSX ---------------------------------------------------------------------------------


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def check_archive(data: bytes) -> None:
    """Refuse an XLSX whose ZIP directory announces a bomb, before any member is inflated."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as error:
        raise ImportFileError(
            "Classeur XLSX illisible : ce n'est pas une archive ZIP valide. Enregistrez-le de "
            "nouveau depuis votre tableur."
        ) from error
    if len(members) > XLSX_MAX_MEMBERS:
        raise ImportFileError(
            f"Ce classeur XLSX contient {len(members)} fichiers internes : un classeur en compte "
            f"une dizaine et la limite est de {XLSX_MAX_MEMBERS}. Il n'a pas été lu."
        )
    total = sum(member.file_size for member in members)
    if total > XLSX_MAX_UNCOMPRESSED_BYTES:
        raise ImportFileError(
            f"Ce classeur XLSX occuperait {_megabytes(total)} une fois décompressé : la limite "
            f"est de {_megabytes(XLSX_MAX_UNCOMPRESSED_BYTES)}. Il n'a pas été lu ; découpez-le "
            "ou envoyez-le en CSV."
        )
    for member in members:
        if member.file_size < XLSX_RATIO_FROM_BYTES:
            continue
        if member.file_size > XLSX_MAX_RATIO * max(1, member.compress_size):
            raise ImportFileError(
                "Ce classeur XLSX est anormalement compressé (plus de "
                f"{XLSX_MAX_RATIO} fois pour « {member.filename[:80]} ») : il ressemble à une "
                "« bombe de décompression » et n'a pas été lu. Enregistrez-le de nouveau depuis "
                "votre tableur, ou envoyez-le en CSV."
            )


_ENTITIES_MESSAGE = (
    "Ce classeur XLSX contient des déclarations d'entités XML (DTD), refusées pour des raisons "
    "de sécurité : il n'a pas été lu. Enregistrez-le de nouveau depuis votre tableur, ou "
    "envoyez-le en CSV."
)


def _caused_by(error: BaseException | None, kind: type[BaseException]) -> bool:
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, kind):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def _read_xlsx(data: bytes) -> Table:
    import openpyxl
    from defusedxml import DefusedXmlException
    from openpyxl import load_workbook

    if not openpyxl.DEFUSEDXML:
        # OPENPYXL_DEFUSEDXML=False (or defusedxml missing) would parse entities unguarded.
        raise ImportFileError(
            "La lecture des classeurs XLSX est désactivée sur ce serveur (defusedxml absent "
            "ou désactivé) : envoyez le fichier en CSV."
        )
    check_archive(data)
    try:
        # Formulas are read as their text (not their cached result) so that a formula cell is
        # seen, and refused, rather than silently imported.
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as error:
        if _caused_by(error, DefusedXmlException):  # openpyxl wraps parse errors in ValueError
            raise ImportFileError(_ENTITIES_MESSAGE) from error
        raise ImportFileError(f"Classeur XLSX illisible ({type(error).__name__}).") from error
    except Exception as error:  # openpyxl raises many kinds of errors on broken archives
        raise ImportFileError("Classeur XLSX illisible.") from error
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise ImportFileError("Le classeur ne contient aucune feuille.")
        headings: list[str] | None = None
        rows: list[tuple[int, list[str]]] = []
        for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_cell_text(value) for value in values[: MAX_COLUMNS + 1]]
            while cells and not cells[-1].strip():
                cells.pop()
            if not cells:
                continue
            if headings is None:
                headings = cells
                continue
            rows.append((line, cells))
            if len(rows) > MAX_ROWS:
                raise ImportFileError(
                    f"Le classeur compte plus de {MAX_ROWS} lignes : découpez-le."
                )
    except ImportFileError:
        raise
    except Exception as error:  # sheets are parsed as they are read
        if _caused_by(error, DefusedXmlException):
            raise ImportFileError(_ENTITIES_MESSAGE) from error
        raise ImportFileError("Classeur XLSX illisible.") from error
    finally:
        workbook.close()
    if headings is None:
        raise ImportFileError("Le classeur est vide.")
    notes = []
    if len(workbook.worksheets) > 1:
        notes.append("Seule la première feuille du classeur a été lue.")
    return Table(headings=headings, rows=rows, format="xlsx", notes=notes)


# -- checks shared by both formats ------------------------------------------------------------


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _checked(table: Table) -> Table:
    headings = [heading.replace("\x00", "").strip() for heading in table.headings]
    while headings and not headings[-1]:
        headings.pop()
    if len(headings) > MAX_COLUMNS:
        raise ImportFileError(f"Le fichier compte plus de {MAX_COLUMNS} colonnes.")
    if not any(headings):
        raise ImportFileError(
            "La ligne d'en-tête est vide : la première ligne doit nommer les colonnes."
        )
    seen: dict[str, int] = {}
    for index, heading in enumerate(headings):
        if not heading:
            headings[index] = f"(colonne {_column_letter(index)})"
            continue
        if len(heading) > 200:
            raise ImportFileError(
                f"L'en-tête de la colonne {_column_letter(index)} est trop long : la première "
                "ligne doit nommer les colonnes."
            )
        key = heading.casefold()
        if key in seen:
            raise ImportFileError(
                f"La colonne « {heading} » apparaît deux fois (colonnes "
                f"{_column_letter(seen[key])} et {_column_letter(index)}) : renommez l'une d'elles."
            )
        seen[key] = index
    table.headings = headings
    return table
