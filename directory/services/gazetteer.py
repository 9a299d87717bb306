"""Territory gazetteer: load the shipped régions, départements and communes, and look them up.

The files under ``seed/territories/`` are built by ``seed/build_gazetteer.py``. Loading is an
idempotent upsert with Core bulk statements (thousands of rows in well under a second): a second
run creates nothing, changed rows are updated, and no commune is ever deleted, since places,
organisations and events may refer to it.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..config import ROOT
from ..extensions import db
from ..models import Commune, Departement, Region
from ..text import fold, slugify

SEED_DIR = ROOT / "seed" / "territories"
MAX_RESULTS = 50

# Abbreviations people type for the saints that start so many commune names.
_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes"}
_SEPARATORS = re.compile(r"[-'’\s]+")


def load_gazetteer(directory: Path = SEED_DIR) -> dict[str, int]:
    """Insert or update the territories shipped in ``directory``; return the counts.

    ``regions``, ``departements`` and ``communes`` are the totals now in the database,
    ``created`` and ``updated`` the rows this run added or changed.
    """
    regions = [
        {"code": row["code"], "name": row["name"], "slug": slugify(row["name"])}
        for row in _read_csv(directory / "regions.csv")
    ]
    outlines = _read_outlines(directory / "departements.geojson")
    departements = [
        {
            "code": row["code"],
            "name": row["name"],
            "region_code": row["region_code"],
            "outline": outlines.get(row["code"]),
        }
        for row in _read_csv(directory / "departements.csv")
    ]
    with gzip.open(directory / "communes.csv.gz", "rt", encoding="utf-8", newline="") as handle:
        communes = [_commune_row(row) for row in csv.DictReader(handle)]

    created = updated = 0
    for model, rows in ((Region, regions), (Departement, departements), (Commune, communes)):
        new, changed = _upsert(model.__table__, rows)
        created += new
        updated += changed
    db.session.commit()
    return {
        "regions": _count(Region),
        "departements": _count(Departement),
        "communes": _count(Commune),
        "created": created,
        "updated": updated,
    }


def find_communes(query: str, limit: int = 10) -> list[Commune]:
    """Communes matching a postcode (or INSEE code) prefix, or a name typed loosely.

    Names match without accents, case, hyphens or apostrophes, "st"/"ste" stand for
    "saint"/"sainte", and a word inside the name matches too ("sorgue"). Exact matches come
    first, then names starting with the query, each group by decreasing population.
    """
    text = (query or "").strip()
    try:
        limit = max(1, min(int(limit), MAX_RESULTS))
    except (TypeError, ValueError):
        limit = 10
    if not text:
        return []
    if text.isdigit():
        if len(text) > 5:
            return []
        return _find_by_number(text, limit)
    key = normalize_name(text)
    if not key:
        return []
    name = _sql_normalized(Commune.search_name)
    pattern = _like_escape(key)
    rank = sa.case((name == key, 0), (name.like(f"{pattern}%", escape="\\"), 1), else_=2)
    statement = (
        sa.select(Commune)
        .where(
            sa.or_(name.like(f"{pattern}%", escape="\\"), name.like(f"% {pattern}%", escape="\\"))
        )
        .order_by(rank, sa.func.coalesce(Commune.population, 0).desc(), Commune.name)
        .limit(limit)
    )
    return list(db.session.scalars(statement))


def find_commune(value: str) -> Commune | None:
    """A commune of the gazetteer by INSEE code, or by exact name (accents optional)."""
    value = (value or "").replace("\x00", "")  # PostgreSQL refuses NUL in text parameters
    if not value:
        return None
    if len(value) == 5 and value[:2].isalnum():
        commune = db.session.get(Commune, value.upper())
        if commune is not None:
            return commune
    return db.session.scalars(
        sa.select(Commune)
        .where(Commune.search_name == fold(value))
        .order_by(Commune.population.desc().nulls_last(), Commune.code)
        .limit(1)
    ).first()


def geocode(commune_code: str) -> tuple[float, float] | None:
    """Centre point (latitude, longitude) of a commune: its town hall, else a point inside it."""
    row = db.session.execute(
        sa.select(Commune.latitude, Commune.longitude).where(Commune.code == commune_code)
    ).first()
    if row is None or row.latitude is None or row.longitude is None:
        return None
    return row.latitude, row.longitude


def departement_outlines(codes: Iterable[str] | None = None) -> dict[str, Any]:
    """Simplified outlines of the covered départements as a GeoJSON FeatureCollection."""
    statement = (
        sa.select(Departement.code, Departement.name, Departement.outline)
        .where(Departement.outline.is_not(None))
        .order_by(Departement.code)
    )
    if codes is not None:
        statement = statement.where(Departement.code.in_(list(codes)))
    features = [
        {
            "type": "Feature",
            "properties": {"code": row.code, "name": row.name},
            "geometry": json.loads(row.outline),
        }
        for row in db.session.execute(statement)
    ]
    return {"type": "FeatureCollection", "features": features}


def normalize_name(text: str) -> str:
    """The look-up form of a name: folded, separators as single spaces, "st" as "saint"."""
    words = _SEPARATORS.sub(" ", fold(text)).split()
    return " ".join(_ABBREVIATIONS.get(word, word) for word in words)


def _find_by_number(digits: str, limit: int) -> list[Commune]:
    pattern = _like_escape(digits)
    postcodes = Commune.postcodes
    # A five-digit number is first a postcode ("13001" is Marseille, not Aix's INSEE code).
    rank = sa.case(
        ((" " + postcodes + " ").like(f"% {pattern} %", escape="\\"), 0),
        (Commune.code == digits, 1),
        else_=2,
    )
    statement = (
        sa.select(Commune)
        .where(
            sa.or_(
                Commune.code == digits,
                postcodes.like(f"{pattern}%", escape="\\"),
                postcodes.like(f"% {pattern}%", escape="\\"),
            )
        )
        .order_by(rank, sa.func.coalesce(Commune.population, 0).desc(), Commune.name)
        .limit(limit)
    )
    return list(db.session.scalars(statement))


def _sql_normalized(column: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    """SQL twin of ``normalize_name`` for stored folded names (hyphens, apostrophes)."""
    expression = column
    for separator in ("-", "'", "’"):
        expression = sa.func.replace(expression, separator, " ")
    return expression


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _read_outlines(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    collection = json.loads(path.read_text(encoding="utf-8"))
    return {
        feature["properties"]["code"]: json.dumps(feature["geometry"], separators=(",", ":"))
        for feature in collection["features"]
    }


def _commune_row(row: dict[str, str]) -> dict[str, Any]:
    return {
        "code": row["code"],
        "name": row["name"],
        "search_name": fold(row["name"]),
        "kind": row["kind"],
        "parent_code": row["parent_code"] or None,
        "departement_code": row["departement_code"],
        "postcodes": row["postcodes"],
        "latitude": float(row["latitude"]) if row["latitude"] else None,
        "longitude": float(row["longitude"]) if row["longitude"] else None,
        "population": int(row["population"]) if row["population"] else None,
    }


def _upsert(table: sa.Table, rows: list[dict[str, Any]]) -> tuple[int, int]:
    """Insert missing rows and update changed ones, keyed by ``code``; never delete."""
    if not rows:
        return 0, 0
    columns = [name for name in rows[0] if name != "code"]
    existing = {
        row.code: tuple(row[1:])
        for row in db.session.execute(sa.select(table.c.code, *(table.c[c] for c in columns)))
    }
    new = [row for row in rows if row["code"] not in existing]
    changed = [
        {"_code": row["code"], **{c: row[c] for c in columns}}
        for row in rows
        if row["code"] in existing and existing[row["code"]] != tuple(row[c] for c in columns)
    ]
    if new:
        db.session.execute(sa.insert(table), new)
    if changed:
        db.session.execute(sa.update(table).where(table.c.code == sa.bindparam("_code")), changed)
    return len(new), len(changed)


def _count(model: type[db.Model]) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0
