"""Tools that some tests need and a developer's machine may lack, under one rule.

A missing tool skips the test, with the reason, on a developer's machine. It fails the test when
``CI`` is set (CI runs with ``CI=true``) or when ``REQUIRE_<TOOL>=1`` is (``REQUIRE_BROWSER=1``,
``REQUIRE_NGINX=1``, ``REQUIRE_REDIS=1``...): a run meant to cover everything cannot go green by
skipping. A missing feature of the application is never a reason to skip: that test fails.
"""

from __future__ import annotations

import os
import re

import pytest

_OFF = {"", "0", "false", "no"}


def _set(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in _OFF


def required(tool: str) -> bool:
    """Whether this run must have ``tool`` (CI, or ``REQUIRE_<TOOL>``)."""
    variable = "REQUIRE_" + re.sub(r"[^A-Z0-9]+", "_", tool.upper())
    return _set("CI") or _set(variable)


def require(tool: str, available: bool, why: str) -> None:
    """Go on when ``available``; otherwise skip, or fail when this run requires ``tool``."""
    if available:
        return
    if required(tool):
        pytest.fail(f"{why} ({tool} is required in this run)", pytrace=False)
    pytest.skip(why)
