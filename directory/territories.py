"""Named groupings of départements used as filters (DESIGN.md §7)."""

from __future__ import annotations

PACA = ("04", "05", "06", "13", "83", "84")
LANGUEDOC_ROUSSILLON = ("11", "30", "34", "48", "66")
OCCITANIE = ("09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82")

# slug -> (label, départements). Languedoc-Roussillon is the former région, now in Occitanie.
REGION_GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "paca": ("Provence-Alpes-Côte d'Azur", PACA),
    "languedoc-roussillon": ("Languedoc-Roussillon", LANGUEDOC_ROUSSILLON),
    "occitanie": ("Occitanie", OCCITANIE),
}

COVERED_DEPARTEMENTS = tuple(sorted(set(PACA) | set(OCCITANIE)))


def departements_of_group(slug: str) -> tuple[str, ...] | None:
    group = REGION_GROUPS.get(slug)
    return group[1] if group else None
