"""Small text helpers shared by the gazetteer, slugs and look-ups."""

from __future__ import annotations

import unicodedata

from slugify import slugify as _slugify


def fold(text: str) -> str:
    """Lower case without accents or ligatures: "Côte d'Azur" -> "cote d'azur"."""
    text = text.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("Æ", "AE")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def slugify(text: str, max_length: int = 120) -> str:
    """A stable, readable, accent-free slug ("Voisins & Citoyens" -> "voisins-citoyens")."""
    return (
        _slugify(
            text, max_length=max_length, word_boundary=True, replacements=[["œ", "oe"], ["Œ", "OE"]]
        )
        or "sans-titre"
    )
