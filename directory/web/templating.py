"""Jinja filters and globals shared by every template.

French formats: "15 juin 2011", "9 h 30" (plain spaces, so that the text reads and searches as
typed), "12 345,5" with a narrow no-break space between thousands.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from flask import Flask, g, request, url_for
from markupsafe import Markup, escape

NARROW_NBSP = "\u202f"
NBSP = "\u00a0"

MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def csp_nonce() -> str:
    """One random nonce per request, for the few scripts the app generates inline."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


@dataclass(frozen=True)
class NavEntry:
    label: str
    url: str
    current: bool


# (label, endpoint, endpoints on which the entry is the current one)
_NAVIGATION: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Accueil", "public.home", ("public.home",)),
    ("Initiatives", "public.initiatives", ("public.initiatives", "public.initiative")),
    ("Organisations", "public.organisations", ("public.organisations", "public.organisation")),
    ("Événements", "public.events", ("public.events", "public.event")),
    ("Carte", "map.map_page", ("map.map_page",)),
    ("Recherche", "search.search", ("search.search",)),
)


def main_navigation() -> list[NavEntry]:
    """Entries of the main menu, the one for the current page flagged."""
    endpoint = request.endpoint if request else None
    return [
        NavEntry(label, url_for(target), endpoint in current_for)
        for label, target, current_for in _NAVIGATION
    ]


def page_url(number: int, param: str = "page") -> str:
    """The current address with ``param`` set to ``number``, every other parameter kept."""
    args = request.args.to_dict(flat=False)
    args[param] = [str(number)]
    view_args = dict(request.view_args or {})
    return url_for(request.endpoint, **view_args, **args)


def _as_date(value: date | datetime | str | None) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def format_date(value: date | datetime | str | None, weekday: bool = False) -> str:
    """``date(2011, 6, 15)`` → "15 juin 2011" ("1er" for the first day of a month)."""
    day = _as_date(value)
    if day is None:
        return ""
    number = "1er" if day.day == 1 else str(day.day)
    text = f"{number} {MONTHS[day.month - 1]} {day.year}"
    if weekday:
        text = f"{WEEKDAYS[day.weekday()]} {text}"
    return text


def format_month(value: date | datetime | str | None) -> str:
    """``date(2011, 6, 15)`` → "juin 2011"."""
    day = _as_date(value)
    return f"{MONTHS[day.month - 1]} {day.year}" if day else ""


def format_time(value: time | datetime | None) -> str:
    """``time(9, 30)`` → "9 h 30", ``time(14, 0)`` → "14 h"."""
    if value is None:
        return ""
    if value.minute:
        return f"{value.hour} h {value.minute:02d}"
    return f"{value.hour} h"


def format_datetime(value: datetime | None) -> str:
    """``datetime(2011, 6, 15, 9, 30)`` → "15 juin 2011 à 9 h 30"."""
    if value is None:
        return ""
    return f"{format_date(value)} à {format_time(value)}"


def format_number(value: int | float | Decimal | str | None, decimals: int = 0) -> str:
    """``12345.5`` → "12 345,5": narrow no-break space between thousands, decimal comma."""
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    text = f"{number:,.{decimals}f}"
    return text.replace(",", NARROW_NBSP).replace(".", ",")


def pluralize(count: int, singular: str, plural: str | None = None) -> str:
    """``3, "initiative"`` → "3 initiatives"; French singular for 0 and 1."""
    word = singular if abs(count) < 2 else (plural or singular + "s")
    return f"{format_number(count)}{NBSP}{word}"


def nl2br(value: str | None) -> Markup:
    """Paragraphs and line breaks of plain text, escaped, as HTML."""
    if not value:
        return Markup("")
    paragraphs = [p.strip() for p in str(value).replace("\r\n", "\n").split("\n\n")]
    return Markup("").join(
        Markup("<p>{}</p>").format(Markup("<br>").join(escape(line) for line in p.split("\n")))
        for p in paragraphs
        if p
    )


class _TemplateRules:
    """``can.edit_initiative(initiative)`` in templates: the server's rules for the current user."""

    def __getattr__(self, name: str):
        from flask_login import current_user

        from ..services.permissions import TEMPLATE_RULES

        rule = TEMPLATE_RULES[name]
        return lambda *args: rule(current_user, *args)


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        can=_TemplateRules(),
        csp_nonce=csp_nonce,
        main_navigation=main_navigation,
        page_url=page_url,
    )
    app.jinja_env.filters.update(
        date_fr=format_date,
        month_fr=format_month,
        time_fr=format_time,
        datetime_fr=format_datetime,
        number_fr=format_number,
        pluralize=pluralize,
        nl2br=nl2br,
    )
