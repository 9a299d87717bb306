"""Threat: a hostile XLSX upload exhausts the server's memory or CPU while it is parsed.

An XLSX file is a ZIP archive of XML documents. A curator (or whoever steals a curator's session)
sends, through the staff import page or the ``import`` command, a workbook that
- declares XML entities that expand exponentially ("billion laughs") in a sheet or in the shared
  strings,
- holds a member that inflates to 2 GB (a zip bomb by size),
- holds thousands of members (a zip bomb by count),
- holds a member compressed a thousand times (a zip bomb by ratio),
- or is not a ZIP archive at all.
Each must be refused before it is inflated or expanded, with a French message, importing nothing.
The hostile files are built here; the big ones are written as raw deflate blocks repeated, so
that the test stays small and fast while the archive really inflates to what it announces.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
from factories import make_user

from directory.extensions import db
from directory.models import Initiative, Role
from directory.services.exchange import readers
from directory.services.exchange.importer import run_import
from directory.services.exchange.readers import ImportFileError, read_table

SHEET = "xl/worksheets/sheet1.xml"
STRINGS = "xl/sharedStrings.xml"
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHEET_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
SHEET_TAIL = b"</sheetData></worksheet>"
LAUGHS = (
    b'<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">'
        % (level, (b"&lol%d;" % (level - 1) if level > 1 else b"&lol;") * 10)
        for level in range(1, 10)
    )
    + b"]>"
)


def workbook_bytes() -> bytes:
    """A genuine small workbook, its text in shared strings as Excel writes it, that imports."""
    workbook = openpyxl.Workbook()
    workbook.active.append(["Titre", "Commune"])
    workbook.active.append(["Jardin partagé des Canebiers", "Marseille"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    members = members_of(buffer.getvalue())
    # openpyxl writes inline strings; Excel and LibreOffice use a shared strings table.
    texts = ["Titre", "Commune", "Jardin partagé des Canebiers", "Marseille"]
    sheet = members[SHEET].decode()
    for index, text in enumerate(texts):
        sheet = sheet.replace(f'"inlineStr"><is><t>{text}</t></is>', f'"s"><v>{index}</v>')
    members[SHEET] = sheet.encode()
    members[STRINGS] = (
        f'<sst xmlns="{MAIN_NS}" count="4" uniqueCount="4">'
        + "".join(f"<si><t>{text}</t></si>" for text in texts)
        + "</sst>"
    ).encode()
    members["[Content_Types].xml"] = members["[Content_Types].xml"].replace(
        b"</Types>",
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    )
    members["xl/_rels/workbook.xml.rels"] = members["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>",
        b'<Relationship Id="rIdStrings" Target="sharedStrings.xml" Type="http://schemas.'
        b'openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/></Relationships>',
    )
    return zipped(members)


def members_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def zipped(members: dict[str, bytes], *, extra: int = 0) -> bytes:
    """An archive of ``members``, plus ``extra`` tiny members."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
        for number in range(extra):
            archive.writestr(f"xl/media/empty{number}.bin", b"")
    return buffer.getvalue()


def rebuilt(replaced: dict[str, bytes], *, extra: int = 0) -> bytes:
    """The genuine workbook with some members replaced and ``extra`` tiny members added."""
    return zipped(members_of(workbook_bytes()) | replaced, extra=extra)


def with_inflating_sheet(padding: int) -> bytes:
    """The genuine workbook whose sheet is a valid XML document padded with ``padding`` spaces.

    The sheet is written as raw deflate: one 16 MiB block of spaces compressed once, with a full
    flush so that it stands alone, then repeated. The archive's directory tells the truth (sizes
    and CRC), so without the checks zipfile and openpyxl would inflate and parse it all.
    """
    chunk_size = 16 * 1024 * 1024
    assert padding % chunk_size == 0
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(b" " * chunk_size) + compressor.flush(zlib.Z_FULL_FLUSH)
    head = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    repeats = padding // chunk_size
    deflated = (
        head.compress(SHEET_HEAD) + head.flush(zlib.Z_FULL_FLUSH)
        + block * repeats
        + tail.compress(SHEET_TAIL) + tail.flush(zlib.Z_FINISH)
    )  # fmt: skip
    crc = zlib.crc32(SHEET_HEAD)
    spaces = b" " * chunk_size
    for _ in range(repeats):
        crc = zlib.crc32(spaces, crc)
    crc = zlib.crc32(SHEET_TAIL, crc)
    size = len(SHEET_HEAD) + padding + len(SHEET_TAIL)
    entries = [
        (name, _deflate(content), zlib.crc32(content), len(content))
        for name, content in members_of(workbook_bytes()).items()
        if name != SHEET
    ]
    entries.append((SHEET, deflated, crc, size))
    return _zip(entries)


def _deflate(content: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(content) + compressor.flush()


def _zip(entries: list[tuple[str, bytes, int, int]]) -> bytes:
    """A ZIP archive of already deflated members: (name, deflate bytes, CRC-32, size)."""
    deflate = 8
    out = io.BytesIO()
    directory = b""
    for name, deflated, crc, size in entries:
        offset, encoded = out.tell(), name.encode()
        sizes = (crc, len(deflated), size, len(encoded))
        local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, deflate, 0, 0, *sizes, 0)
        out.write(local + encoded + deflated)
        central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, deflate, 0, 0, *sizes,
                              0, 0, 0, 0, 0, offset)  # fmt: skip
        directory += central + encoded
    start = out.tell()
    count = len(entries)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(directory), start, 0)
    out.write(directory + end)
    return out.getvalue()


def laughing(member: str) -> bytes:
    """The genuine workbook with an entity bomb in ``member`` (a sheet or the shared strings)."""
    original = members_of(workbook_bytes())[member]
    # The entity is used where text goes: the first shared string, or a cell's inline string.
    if member == STRINGS:
        body = original.replace(b"<t>Titre</t>", b"<t>&lol9;</t>", 1)
    else:
        cell = b'<row r="99"><c r="A99" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
        body = original.replace(b"<sheetData>", b"<sheetData>" + cell, 1)
    assert body != original
    return rebuilt({member: b'<?xml version="1.0" encoding="UTF-8"?>\n' + LAUGHS + body})


HOSTILE = {
    "laughs-in-shared-strings": (lambda: laughing(STRINGS), "entités XML"),
    "laughs-in-sheet": (lambda: laughing(SHEET), "entités XML"),
    "two-gigabytes": (lambda: with_inflating_sheet(2 * 1024 * 1024 * 1024), "une fois décompressé"),
    "five-thousand-members": (lambda: rebuilt({}, extra=5_000), "fichiers internes"),
    "high-ratio": (lambda: with_inflating_sheet(64 * 1024 * 1024), "anormalement compressé"),
    "not-a-zip": (lambda: b"PK\x03\x04" + b"\x8f\x11 pas une archive " * 100, "XLSX illisible"),
}


@pytest.fixture(scope="module")
def hostile_files() -> dict[str, bytes]:
    return {name: build() for name, (build, _) in HOSTILE.items()}


def test_openpyxl_parses_through_defusedxml():
    assert openpyxl.xml.DEFUSEDXML is True
    from openpyxl.xml import functions

    assert functions.iterparse.__module__.startswith("defusedxml")


def test_the_genuine_workbook_is_read():
    """The builders start from a workbook that imports: what refuses the others is the attack."""
    table = read_table(workbook_bytes(), "genuine.xlsx")
    assert table.headings == ["Titre", "Commune"]
    assert table.rows == [(2, ["Jardin partagé des Canebiers", "Marseille"])]


def test_a_large_genuine_workbook_passes_the_archive_check():
    """The bounds leave room for real workbooks (a sheet of several megabytes of XML)."""
    workbook = openpyxl.Workbook()
    workbook.active.append(["Titre", "Commune", "Description"])
    for number in range(6000):
        workbook.active.append([f"Projet {number}", "Nice", "Une description assez longue " * 3])
    buffer = io.BytesIO()
    workbook.save(buffer)
    with zipfile.ZipFile(buffer) as archive:
        assert archive.getinfo(SHEET).file_size > readers.XLSX_RATIO_FROM_BYTES
    assert len(read_table(buffer.getvalue(), "grand.xlsx").rows) == 6000


def test_xlsx_is_refused_when_openpyxl_would_parse_unguarded(monkeypatch):
    """OPENPYXL_DEFUSEDXML=False (or defusedxml missing) must not silently re-open the hole."""
    monkeypatch.setattr(openpyxl, "DEFUSEDXML", False)
    with pytest.raises(ImportFileError) as caught:
        read_table(workbook_bytes(), "genuine.xlsx")
    assert "defusedxml" in caught.value.message


def test_the_hostile_archives_really_announce_what_they_hold(hostile_files):
    with zipfile.ZipFile(io.BytesIO(hostile_files["two-gigabytes"])) as archive:
        sheet = archive.getinfo(SHEET)
        assert sheet.file_size > 2 * 1024 * 1024 * 1024
        with archive.open(sheet) as stream:  # valid deflate: it starts inflating as announced
            assert stream.read(len(SHEET_HEAD) + 1000) == SHEET_HEAD + b" " * 1000
    assert len(hostile_files["two-gigabytes"]) < 3 * 1024 * 1024
    with zipfile.ZipFile(io.BytesIO(hostile_files["high-ratio"])) as archive:
        sheet = archive.getinfo(SHEET)
        assert sheet.file_size < readers.XLSX_MAX_UNCOMPRESSED_BYTES
        assert sheet.file_size > 500 * sheet.compress_size
        assert archive.testzip() is None  # CRCs are right: a true archive, not a broken one
    with zipfile.ZipFile(io.BytesIO(hostile_files["five-thousand-members"])) as archive:
        assert len(archive.infolist()) > 5_000


@pytest.mark.parametrize("name", list(HOSTILE))
def test_reader_refuses_in_french(hostile_files, name):
    with pytest.raises(ImportFileError) as caught:
        read_table(hostile_files[name], f"{name}.xlsx")
    assert HOSTILE[name][1] in caught.value.message
    assert "n'a pas été lu" in caught.value.message or name == "not-a-zip"


def test_entities_are_refused_even_if_a_reader_bypassed_the_archive_check():
    """defusedxml itself stops the expansion (not only a text search for DOCTYPE)."""
    from defusedxml import EntitiesForbidden
    from openpyxl.xml.functions import fromstring

    with pytest.raises(EntitiesForbidden):
        fromstring(b'<?xml version="1.0"?>' + LAUGHS + b"<a>&lol9;</a>")


# -- through the staff import page and the CLI ---------------------------------------------------


@pytest.fixture
def curator(app):
    with app.app_context():
        user = make_user(role=Role.CURATOR, email="curatrice.bombes@example.org")
        db.session.commit()
        return user


def count_initiatives(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Initiative))


@pytest.mark.parametrize("name", list(HOSTILE))
def test_staff_import_page_refuses_and_imports_nothing(
    app, client, sign_in, csrf_token, curator, hostile_files, name
):
    before = count_initiatives(app)
    sign_in(client, curator)
    response = client.post(
        "/gestion/import",
        data={
            "csrf_token": csrf_token(client),
            "kind": "initiative",
            "file": (io.BytesIO(hostile_files[name]), f"{name}.xlsx"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.text
    report = client.get(response.headers["Location"])
    assert report.status_code == 200
    assert "Ce fichier ne peut pas être importé" in report.text
    assert HOSTILE[name][1] in report.text
    # No button leads to a real run, and forcing one writes nothing either.
    confirm = client.post(
        response.headers["Location"] + "/importer", data={"csrf_token": csrf_token(client)}
    )
    assert confirm.status_code == 302
    assert count_initiatives(app) == before


@pytest.mark.parametrize("name", ["laughs-in-sheet", "two-gigabytes", "five-thousand-members"])
def test_cli_import_refuses_and_imports_nothing(
    app, runner, curator, hostile_files, tmp_path: Path, name
):
    path = tmp_path / f"{name}.xlsx"
    path.write_bytes(hostile_files[name])
    before = count_initiatives(app)
    result = runner.invoke(args=["import", str(path), "--as", "curatrice.bombes@example.org"])
    assert result.exit_code == 1
    assert "Fichier refusé" in result.output and HOSTILE[name][1] in result.output
    assert count_initiatives(app) == before


def test_service_reports_the_refusal_and_writes_nothing(app_ctx, hostile_files):
    curator = make_user(role=Role.CURATOR)
    db.session.commit()
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Initiative))
    report = run_import(
        hostile_files["laughs-in-shared-strings"], "b.xlsx", kind="initiative", user=curator,
        dry_run=False,
    )  # fmt: skip
    assert "entités XML" in report.file_error and not report.rows and not report.written
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Initiative)) == before
