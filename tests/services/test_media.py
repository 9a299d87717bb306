"""Logo uploads: only real PNG, JPEG and WebP images, re-encoded without metadata, kept
private until an online organisation uses them."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
import sqlalchemy as sa
from factories import make_organisation
from PIL import Image

from directory.extensions import db
from directory.models import Organisation, Status
from directory.services import media
from directory.services.media import MediaError


def image_bytes(fmt: str, size=(40, 30), mode="RGB", exif: bool = False) -> bytes:
    image = Image.new(mode, size, (200, 30, 30) if mode == "RGB" else None)
    buffer = io.BytesIO()
    options = {}
    if exif:
        data = Image.Exif()
        data[0x010F] = "Appareil secret"  # Make
        data[0x0131] = "Logiciel secret"  # Software
        options["exif"] = data.tobytes()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    """A tiny PNG file whose header announces a huge picture (1 bit per pixel, all zero)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(min(height, 2000)))
    data += compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(("fmt", "extension"), [("PNG", "png"), ("JPEG", "jpg"), ("WEBP", "webp")])
def test_accepted_formats_are_re_encoded_without_metadata(fmt, extension):
    original = image_bytes(fmt, exif=True)
    assert Image.open(io.BytesIO(original)).getexif()  # the upload carries EXIF
    cleaned, ext = media.clean_image(original)
    assert ext == extension
    with Image.open(io.BytesIO(cleaned)) as image:
        assert image.format == fmt
        assert image.size == (40, 30)
        assert not image.getexif()
        assert "exif" not in image.info
    assert b"Appareil secret" not in cleaned


def test_a_new_logo_is_stored_private_until_published(app_ctx):
    path = media.save_logo(io.BytesIO(image_bytes("PNG")))
    assert path.startswith("logos/") and path.endswith(".png")
    name = media.logo_name(path)
    assert media.logo_file(name) is None  # not served publicly yet
    assert not media.is_public(path)
    file_path, mimetype = media.stored_logo_file(name)
    assert mimetype == "image/png"
    assert file_path.parent == media.private_logo_dir()
    assert "static" not in file_path.parts
    assert file_path.stat().st_mode & 0o777 == 0o600
    assert media.publish_logo(path) is True
    public_path, _ = media.logo_file(name)
    assert public_path.parent == media.logo_dir() and not file_path.exists()
    assert media.stored_logo_file(name) == (public_path, "image/png")
    assert media.publish_logo(path) is False  # already public
    # Random names: two uploads of the same picture never collide.
    assert media.save_logo(io.BytesIO(image_bytes("PNG"))) != path


def test_logos_follow_the_status_of_the_organisation_using_them(app_ctx):
    """Public once an online organisation's row uses it, whichever service committed that."""
    draft = make_organisation(status=Status.DRAFT)
    draft.logo_path = media.save_logo(io.BytesIO(image_bytes("PNG")))
    db.session.commit()
    assert not media.is_public(draft.logo_path)
    draft.status = Status.PUBLISHED
    db.session.rollback()  # a rolled-back change publishes nothing
    assert not media.is_public(draft.logo_path)
    draft.status = Status.PUBLISHED
    db.session.commit()
    assert media.is_public(draft.logo_path)


def test_reconcile_moves_unpublished_logos_out_of_the_public_folder(app_ctx):
    """An instance from before private logos: every upload sits in the public folder."""
    published = make_organisation(status=Status.PUBLISHED)
    pending = make_organisation(status=Status.PROPOSED)
    db.session.commit()
    media.logo_dir().mkdir(parents=True, exist_ok=True)
    names = {}
    for key in ("published", "pending", "orphan", "stranded"):
        names[key] = media.logo_name(media.save_logo(io.BytesIO(image_bytes("PNG"))))
        if key != "stranded":  # left private though published: a publish that failed
            media.stored_logo_file(names[key])[0].rename(media.logo_dir() / names[key])
    # Written straight to the rows, as old data is: no publishing hook runs for it.
    db.session.execute(
        sa.update(Organisation)
        .where(Organisation.id == published.id)
        .values(logo_path=f"logos/{names['published']}")
    )
    db.session.execute(
        sa.update(Organisation)
        .where(Organisation.id == pending.id)
        .values(logo_path=f"logos/{names['pending']}")
    )
    stranded = make_organisation(status=Status.PUBLISHED)
    db.session.commit()
    db.session.execute(
        sa.update(Organisation)
        .where(Organisation.id == stranded.id)
        .values(logo_path=f"logos/{names['stranded']}")
    )
    db.session.commit()
    assert media.reconcile_logos() == (1, 2)
    assert media.logo_file(names["published"]) is not None
    assert media.logo_file(names["stranded"]) is not None
    assert media.logo_file(names["pending"]) is None
    assert media.logo_file(names["orphan"]) is None
    assert media.stored_logo_file(names["pending"]) is not None
    assert media.reconcile_logos() == (0, 0)  # idempotent


@pytest.mark.parametrize(
    ("data", "announced"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "SVG"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"></svg>', "SVG"),
        (image_bytes("GIF", mode="P"), "GIF"),
        (image_bytes("BMP"), "BMP"),
        (b"Ceci est un simple texte renomme en .png", "fichier non reconnu"),
        (b"%PDF-1.4 fake", "PDF"),
    ],
)
def test_other_formats_are_refused_with_their_name(data, announced):
    with pytest.raises(MediaError) as error:
        media.clean_image(data)
    message = error.value.args[0]
    assert message.startswith("Format non accepté : ")
    assert announced in message


def test_too_heavy_file_is_refused_without_reading_it_all():
    stream = io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\x00" * (3 * 1024 * 1024))
    with pytest.raises(MediaError, match="2 Mo"):
        media.read_upload(stream)
    assert stream.tell() == media.MAX_BYTES + 1


def test_empty_file_is_refused():
    with pytest.raises(MediaError, match="vide"):
        media.read_upload(io.BytesIO(b""))


def test_oversized_picture_is_refused():
    data = image_bytes("PNG", size=(5000, 5000))
    assert len(data) < media.MAX_BYTES
    with pytest.raises(MediaError, match="4000 × 4000"):
        media.clean_image(data)


def test_one_side_too_long_is_refused():
    with pytest.raises(MediaError, match="trop grande"):
        media.clean_image(image_bytes("PNG", size=(4001, 10)))


@pytest.mark.parametrize(("width", "height"), [(30_000, 30_000), (100_000, 100_000), (6000, 3000)])
def test_decompression_bomb_is_refused(width, height):
    data = png_bomb(width, height)
    assert len(data) < 100_000
    with pytest.raises(MediaError, match="trop grande"):
        media.clean_image(data)


def test_truncated_image_is_refused():
    data = image_bytes("JPEG", size=(400, 300))
    with pytest.raises(MediaError, match="pas pu être lu"):
        media.clean_image(data[: len(data) // 2])


@pytest.mark.parametrize(
    "name",
    [
        "../secret_key",
        "..%2Fsecret_key",
        "abc.png",
        "0" * 32 + ".svg",
        "0" * 32 + ".png/../x",
        "0" * 32 + ".PNG",
        "",
    ],
)
def test_only_well_formed_names_are_looked_up(app_ctx, name):
    assert media.logo_file(name) is None


def test_logo_name_of_stored_paths():
    good = "logos/" + "a" * 32 + ".webp"
    assert media.logo_name(good) == "a" * 32 + ".webp"
    assert media.logo_name("logos/../../secret_key") is None
    assert media.logo_name("autre/" + "a" * 32 + ".png") is None
    assert media.logo_name(None) is None
