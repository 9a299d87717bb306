"""Organisation logos: checked, decoded and re-encoded before they are stored.

An upload is never served as sent. Pillow decodes it (PNG, JPEG or WebP only), refuses
decompression bombs and oversized images, and writes a fresh file without metadata under
``instance/uploads/logos/<random hex>.<ext>``, outside ``static/``. Names are random, so a
stored file cannot be guessed, overwritten or reached through a crafted path.
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

from flask import current_app
from PIL import Image, ImageOps

MAX_BYTES = 2 * 1024 * 1024
MAX_SIDE = 4000
MAX_PIXELS = MAX_SIDE * MAX_SIDE
LOGO_DIR = "logos"

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
    return Path(current_app.instance_path) / "uploads" / LOGO_DIR


def save_logo(stream: IO[bytes]) -> str:
    """Check, clean and store an uploaded logo; return its path ("logos/<hex>.<ext>")."""
    return store_logo(*clean_image(read_upload(stream)))


def store_logo(data: bytes, extension: str) -> str:
    """Store an image cleaned by :func:`clean_image`; return its path ("logos/<hex>.<ext>")."""
    if extension not in MIME_TYPES:
        raise ValueError(f"unexpected extension {extension!r}")
    directory = logo_dir()
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.{extension}"
    # Write then rename: a reader never sees half a file.
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, directory / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return f"{LOGO_DIR}/{name}"


def logo_file(name: str) -> tuple[Path, str] | None:
    """The stored file and MIME type for a logo name, or None for anything else."""
    if not NAME_PATTERN.fullmatch(name or ""):
        return None
    path = logo_dir() / name
    if not path.is_file():
        return None
    return path, MIME_TYPES[name.rsplit(".", 1)[1]]


def logo_name(logo_path: str | None) -> str | None:
    """The file name of an organisation's ``logo_path`` ("logos/<name>"), if well formed."""
    if not logo_path:
        return None
    directory, _, name = logo_path.partition("/")
    if directory != LOGO_DIR or not NAME_PATTERN.fullmatch(name):
        return None
    return name
