"""URL converters that refuse, at routing, values no page can have: the address is a 404.

Checking here, once, keeps malformed values away from every view and from the database: an id
beyond what the column holds (OverflowError in the SQLite driver, "integer out of range" from
PostgreSQL) or a NUL byte (PostgreSQL refuses them in text) would otherwise be a 500 on any
route taking an id or a slug.
"""

from __future__ import annotations

from flask import Flask
from werkzeug import routing

# Ids are INTEGER columns: PostgreSQL holds up to 2**31 - 1 there (SQLite up to 2**63 - 1, the
# driver raising OverflowError beyond), so the smaller bound is the one that holds everywhere.
MAX_ID = 2**31 - 1

# C0 controls (NUL included) and DEL: no slug, code or token contains one.
_CONTROL = r"\x00-\x1f\x7f"


class IntegerConverter(routing.IntegerConverter):
    """``<int:...>``: ASCII digits from 1 to ``MAX_ID``; anything else does not route.

    It keeps werkzeug's class name: what recognises converters by name (the tests that walk
    the URL map) still sees an integer.
    """

    regex = r"[0-9]+"

    def __init__(self, map, fixed_digits: int = 0, min: int = 1, max: int = MAX_ID) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max)


class SegmentConverter(routing.UnicodeConverter):
    """``<slug>``, ``<string:...>``: one path segment without control characters."""

    def __init__(self, map, minlength: int = 1, maxlength: int | None = None, length=None):
        super().__init__(map, minlength=minlength, maxlength=maxlength, length=length)
        # The parent builds "[^/]{min,max}": the same, with control characters excluded.
        self.regex = self.regex.replace("[^/]", f"[^/{_CONTROL}]", 1)


class SafePathConverter(routing.PathConverter):
    """``<path:...>``: several segments, without control characters."""

    regex = f"[^/{_CONTROL}][^{_CONTROL}]*?"


CONVERTERS = {
    "default": SegmentConverter,
    "string": SegmentConverter,
    "int": IntegerConverter,
    "path": SafePathConverter,
}


def init_app(app: Flask) -> None:
    """Install the converters: before any blueprint, as a rule takes its converters when added.

    (Flask's own ``/static/<path:filename>`` is added earlier; ``safe_join`` guards it.)
    """
    app.url_map.converters.update(CONVERTERS)
