"""Moving one row of a curated list up or down (programme, speakers, workshops, themes...)."""

from __future__ import annotations

from typing import Any


def moved(rows: list[Any], row: Any, direction: str) -> list[Any]:
    """``rows`` (in their order) with ``row`` swapped with its neighbour above ("up") or below
    ("down"); unchanged at either end. Callers number the result as their column needs."""
    rows = list(rows)
    index = rows.index(row)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(rows):
        rows[index], rows[other] = rows[other], rows[index]
    return rows
