"""Strict query-string parsing for the API.

The site forgives bad filters (they are dropped with a message); an API client is better served by
a 400 that says what was wrong, so every parameter is checked against what the OpenAPI document
declares: names, repetitions, types, ranges and allowed values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from werkzeug.datastructures import MultiDict

from ..models import Stage
from ..services.filters import MAX_QUERY_LENGTH, MAX_VALUES, InitiativeFilters
from ..territories import REGION_GROUPS
from .errors import invalid_parameters

SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
SLUG_MAX_LENGTH = 200
MAX_PAGE = 1_000_000
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
YEAR_MIN, YEAR_MAX = 1900, 2100
_SLUG = re.compile(SLUG_PATTERN)
_INTEGER = re.compile(r"^[0-9]{1,9}$")

INITIATIVE_FILTER_PARAMS = (
    "q",
    "theme",
    "public",
    "stage",
    "departement",
    "region",
    "organisation",
    "event",
    "year",
)
PAGING_PARAMS = ("page", "per_page")
INITIATIVE_SORTS = ("title", "recent", "start_year")
STAGE_VALUES = tuple(stage.value for stage in Stage)


def is_slug(value: str) -> bool:
    return len(value) <= SLUG_MAX_LENGTH and bool(_SLUG.match(value))


@dataclass(frozen=True)
class Paging:
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE


@dataclass(frozen=True)
class Choices:
    """The values a filter accepts, read from the database by the caller."""

    themes: Collection[str]
    publics: Collection[str]
    stages: Collection[str]
    departements: Collection[str]


class QueryArgs:
    """Reads one request's query string, collecting every problem before answering 400."""

    def __init__(self, args: MultiDict, allowed: Iterable[str]) -> None:
        self.args = args
        self.problems: list[dict[str, str]] = []
        allowed_names = set(allowed)
        for name in args:
            if name not in allowed_names:
                known = ", ".join(sorted(allowed_names)) or "aucun"
                self.problem(name, f"Paramètre inconnu (paramètres acceptés : {known}).")

    def problem(self, name: str, message: str) -> None:
        self.problems.append({"parameter": name, "message": message})

    def raise_if_invalid(self) -> None:
        if self.problems:
            raise invalid_parameters(self.problems)

    def single(self, name: str) -> str | None:
        values = self.args.getlist(name)
        if not values:
            return None
        if len(values) > 1:
            self.problem(name, "Ce paramètre ne peut être donné qu'une fois.")
            return None
        return values[0]

    def text(self, name: str, max_length: int) -> str:
        value = self.single(name)
        if value is None:
            return ""
        if len(value) > max_length:
            self.problem(name, f"Texte trop long ({max_length} caractères au plus).")
            return ""
        # PostgreSQL refuses NUL characters in text; they carry no meaning in a search.
        return value.replace("\x00", " ").strip()

    def integer(self, name: str, minimum: int, maximum: int, default: int | None) -> int | None:
        raw = self.single(name)
        if raw is None:
            return default
        if not _INTEGER.match(raw) or not minimum <= int(raw) <= maximum:
            self.problem(name, f"Nombre entier attendu, entre {minimum} et {maximum}.")
            return default
        return int(raw)

    def choice(self, name: str, allowed: Collection[str], default: str = "") -> str:
        value = self.single(name)
        if value is None:
            return default
        if value not in allowed:
            self.problem(name, f"Valeur inconnue « {value[:60]} ».")
            return default
        return value

    def slug(self, name: str) -> str:
        value = self.single(name)
        if value is None:
            return ""
        if not is_slug(value):
            self.problem(name, "Identifiant (slug) attendu : minuscules, chiffres et tirets.")
            return ""
        return value

    def many(self, name: str, allowed: Collection[str]) -> tuple[str, ...]:
        values = self.args.getlist(name)
        if len(values) > MAX_VALUES:
            self.problem(name, f"{MAX_VALUES} valeurs au plus.")
            return ()
        unknown = [value for value in values if value not in allowed]
        if unknown:
            shown = ", ".join(f"« {value[:60]} »" for value in unknown[:5])
            self.problem(name, f"Valeur(s) inconnue(s) : {shown}.")
            return ()
        return tuple(dict.fromkeys(values))

    def paging(self) -> Paging:
        page = self.integer("page", 1, MAX_PAGE, 1)
        per_page = self.integer("per_page", 1, MAX_PER_PAGE, DEFAULT_PER_PAGE)
        return Paging(page=page or 1, per_page=per_page or DEFAULT_PER_PAGE)


def parse_initiative_query(
    args: MultiDict, choices: Callable[[], Choices], extra: Iterable[str] = ()
) -> tuple[QueryArgs, InitiativeFilters]:
    """The shared initiative filters from an API query string (400 on any problem).

    ``extra`` names the other parameters the endpoint reads itself (paging, sort); the caller
    reads them from the returned ``QueryArgs`` then calls ``raise_if_invalid``.
    """
    reader = QueryArgs(args, (*INITIATIVE_FILTER_PARAMS, *extra))
    accepted = (
        choices() if any(args.getlist(n) for n in ("theme", "public", "departement")) else None
    )
    empty: Collection[str] = ()
    year = reader.integer("year", YEAR_MIN, YEAR_MAX, None)
    filters = InitiativeFilters(
        q=reader.text("q", MAX_QUERY_LENGTH),
        themes=reader.many("theme", accepted.themes if accepted else empty),
        publics=reader.many("public", accepted.publics if accepted else empty),
        stages=reader.many("stage", STAGE_VALUES),
        departements=reader.many("departement", accepted.departements if accepted else empty),
        region=reader.choice("region", REGION_GROUPS),
        organisation=reader.slug("organisation"),
        event=reader.slug("event"),
        year=year,
    )
    return reader, filters
