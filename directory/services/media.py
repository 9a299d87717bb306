"""Organisation logos: checked, decoded and re-encoded before they are stored.

An upload is never served as sent. Pillow decodes it (PNG, JPEG or WebP only), refuses
decompression bombs and oversized images, and writes a fresh file without metadata, outside
``static/``. Names are random, so a stored file cannot be guessed, overwritten or reached
through a crafted path.

A logo is private until it is published. Every new file goes to
``instance/uploads/private/logos/``, which no public route serves (staff and the organisation's
members see it through a signed-in route). It moves to ``instance/uploads/logos/``, served to
everyone, once an online (published or archived) organisation's row points at it: a session
hook notes those rows at each flush and publishes their logos after the commit, whichever
service made the change (approval, direct edit, restore, unarchive, merge). A proposal that
is pending or refused therefore never makes its logo public. ``reconcile_logos`` (run by
``flask setup``) puts an existing instance in the same state.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import tempfile
import warnings
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from flask import current_app, has_app_context
from PIL import Image, ImageOps
from sqlalchemy import orm

from ..extensions import db
from ..models import Organisation, Revision, Status

MAX_BYTES = 2 * 1024 * 1024
MAX_SIDE = 4000
MAX_PIXELS = MAX_SIDE * MAX_SIDE
LOGO_DIR = "logos"
PRIVATE_DIR = "private"
# Statuses whose logo is public: published, and archived (published once, by the staff).
ONLINE = (Status.PUBLISHED, Status.ARCHIVED)
_TO_PUBLISH = "logos_to_publish"

# Pillow warns above MAX_IMAGE_PIXELS and fails above twice that; logos never need more.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

# Pillow format -> (file extension, MIME type, save options).
FORMATS: dict[str, tuple[str, str, dict]] = {
    "PNG": ("png", "image/png", {"optimize": True}),
    "JPEG": ("jpg", "image/jpeg", {"quality": 88, "optimize": True}),
    "WEBP": ("webp", "image/webp", {"quality": 88}),
}
MIME_TYPES = {ext: mime for ext, mime, _ in FORMATS.values()}
NAME_PATTERN = re.compile(r"^[0-9a-f]{32}\.(png|jpg|webp)$")

# What people send instead, recognised by the first bytes, to name it in the message.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"%PDF", "PDF"),
    (b"\x00\x00\x01\x00", "ICO"),
)


class MediaError(ValueError):
    """An upload refused; ``args[0]`` is the French message for the form."""


def sniff(head: bytes) -> str | None:
    """The format announced by a file's first bytes ("PNG", "SVG", "GIF"...), or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    for signature, name in _SIGNATURES:
        if head.startswith(signature):
            return name
    text = head[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<svg", b"<?xml")) and b"<svg" in head.lower():
        return "SVG"
    if text.startswith((b"<!doctype html", b"<html")):
        return "HTML"
    return None


def _format_label(name: str | None) -> str:
    return {"WEBP": "WebP", None: "fichier non reconnu comme une image"}.get(name, name or "")


def read_upload(stream: IO[bytes]) -> bytes:
    """The uploaded bytes, refusing more than MAX_BYTES without reading them all."""
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise MediaError("Le logo dépasse 2 Mo : réduisez sa taille avant de l’envoyer.")
    if not data:
        raise MediaError("Le fichier envoyé est vide.")
    return data


def clean_image(data: bytes) -> tuple[bytes, str]:
    """Decode ``data`` and re-encode it without metadata; return (bytes, extension)."""
    announced = sniff(data[:1024])
    if announced not in FORMATS:
        raise MediaError(
            f"Format non accepté : {_format_label(announced)}. Envoyez une image PNG, JPEG ou WebP."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[announced]) as image:
                width, height = image.size
                if width > MAX_SIDE or height > MAX_SIDE:
                    raise MediaError(
                        f"Image trop grande ({width} × {height} pixels) : "
                        f"{MAX_SIDE} × {MAX_SIDE} pixels au plus."
                    )
                image.load()
                clean = ImageOps.exif_transpose(image) or image
                output = _encode(clean, announced)
        except MediaError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise MediaError(
                f"Image trop grande : {MAX_SIDE} × {MAX_SIDE} pixels au plus."
            ) from error
        except Exception as error:  # any decoder failure means a broken or disguised file
            raise MediaError(
                "Le fichier n’a pas pu être lu comme une image : il est peut-être abîmé."
            ) from error
    return output, FORMATS[announced][0]


def _encode(image: Image.Image, fmt: str) -> bytes:
    if fmt == "JPEG":
        image = image.convert("RGB")
    elif image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        image = image.convert("RGBA")
    # A new image holds the pixels and nothing else: no EXIF, XMP, ICC or comments.
    bare = Image.new(image.mode, image.size)
    if image.mode == "P":
        bare.putpalette(image.getpalette() or [])
        if "transparency" in image.info:
            bare.info["transparency"] = image.info["transparency"]
    bare.paste(image)
    buffer = io.BytesIO()
    options = dict(FORMATS[fmt][2])
    if fmt == "PNG" and "transparency" in bare.info:
        options["transparency"] = bare.info["transparency"]
    bare.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def logo_dir() -> Path:
    """The public logos: ``/medias/logos/<name>`` serves what is here, to everyone."""
    return Path(current_app.instance_path) / "uploads" / LOGO_DIR


def private_logo_dir() -> Path:
    """Logos of pending, refused or never published versions: no public route serves them."""
    return Path(current_app.instance_path) / "uploads" / PRIVATE_DIR / LOGO_DIR


def save_logo(stream: IO[bytes]) -> str:
    """Check, clean and store an uploaded logo (private); return its path ("logos/<hex>.<ext>")."""
    return store_logo(*clean_image(read_upload(stream)))


def store_logo(data: bytes, extension: str) -> str:
    """Store an image cleaned by :func:`clean_image` in the private folder; return its path
    ("logos/<hex>.<ext>"). It becomes public when an online organisation uses it."""
    if extension not in MIME_TYPES:
        raise ValueError(f"unexpected extension {extension!r}")
    directory = private_logo_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.{extension}"
    # Write then rename: a reader never sees half a file.
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o600)  # the app serves its files itself; nobody else reads them
        os.replace(temporary, directory / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return f"{LOGO_DIR}/{name}"


def logo_file(name: str) -> tuple[Path, str] | None:
    """The public file and MIME type for a logo name, or None (unknown, malformed, private)."""
    if not NAME_PATTERN.fullmatch(name or ""):
        return None
    path = logo_dir() / name
    if not path.is_file():
        return None
    return path, MIME_TYPES[name.rsplit(".", 1)[1]]


def stored_logo_file(name: str) -> tuple[Path, str] | None:
    """Like :func:`logo_file`, public or private: for the signed-in route only."""
    found = logo_file(name)
    if found is not None or not NAME_PATTERN.fullmatch(name or ""):
        return found
    path = private_logo_dir() / name
    if not path.is_file():
        return None
    return path, MIME_TYPES[name.rsplit(".", 1)[1]]


def is_public(logo_path: str | None) -> bool:
    name = logo_name(logo_path)
    return name is not None and (logo_dir() / name).is_file()


def publish_logo(logo_path: str | None) -> bool:
    """Move a private logo to the public folder; True if it moved."""
    name = logo_name(logo_path)
    if name is None:
        return False
    return _move(private_logo_dir() / name, logo_dir() / name)


def unpublish_logo(logo_path: str | None) -> bool:
    """Move a public logo to the private folder; True if it moved."""
    name = logo_name(logo_path)
    if name is None:
        return False
    return _move(logo_dir() / name, private_logo_dir() / name)


def _move(source: Path, target: Path) -> bool:
    if not source.is_file():
        return False
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.replace(source, target)  # one file system (the instance): atomic
    return True


def logo_organisations(logo_path: str) -> list[Organisation]:
    """The organisations a stored logo belongs to: their row or one of their versions uses it."""
    in_versions = sa.select(Revision.entity_id).where(
        Revision.entity_type == "organisation",
        Revision.snapshot["logo_path"].as_string() == logo_path,
    )
    return list(
        db.session.scalars(
            sa.select(Organisation).where(
                sa.or_(Organisation.logo_path == logo_path, Organisation.id.in_(in_versions))
            )
        )
    )


def reconcile_logos() -> tuple[int, int]:
    """Make the folders match the database; return (published, made private).

    Public: the logos of online organisations. Private: every other stored logo (pending or
    refused proposals, logos replaced since). Stores written before logos were kept private had
    every upload in the public folder; this moves those that were never published.
    """
    online = {
        name
        for name in map(
            logo_name,
            db.session.scalars(
                sa.select(Organisation.logo_path).where(
                    Organisation.status.in_(ONLINE), Organisation.logo_path.is_not(None)
                )
            ),
        )
        if name
    }
    published = sum(
        publish_logo(f"{LOGO_DIR}/{name}") for name in _stored(private_logo_dir()) if name in online
    )
    hidden = sum(
        unpublish_logo(f"{LOGO_DIR}/{name}") for name in _stored(logo_dir()) if name not in online
    )
    return published, hidden


def _stored(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return [path.name for path in folder.iterdir() if NAME_PATTERN.fullmatch(path.name)]


# -- publishing after commit ------------------------------------------------------------------


@sa.event.listens_for(orm.Session, "after_flush")
def _note_online_logos(session: orm.Session, _context) -> None:
    """Remember the logos of online organisations this flush wrote (published after commit)."""
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, Organisation) and obj.logo_path and obj.status in ONLINE:
            session.info.setdefault(_TO_PUBLISH, set()).add(obj.logo_path)


@sa.event.listens_for(orm.Session, "after_commit")
def _publish_noted_logos(session: orm.Session) -> None:
    paths = session.info.pop(_TO_PUBLISH, None)
    if not paths or not has_app_context():
        return
    for path in paths:
        try:
            publish_logo(path)
        except OSError:  # the change is committed; ``flask setup`` repairs the folders
            current_app.logger.exception("Publishing logo %s failed", path)


@sa.event.listens_for(orm.Session, "after_rollback")
def _forget_noted_logos(session: orm.Session) -> None:
    session.info.pop(_TO_PUBLISH, None)


def logo_name(logo_path: str | None) -> str | None:
    """The file name of an organisation's ``logo_path`` ("logos/<name>"), if well formed."""
    if not logo_path:
        return None
    directory, _, name = logo_path.partition("/")
    if directory != LOGO_DIR or not NAME_PATTERN.fullmatch(name):
        return None
    return name
