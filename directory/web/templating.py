"""Jinja filters and globals shared by every template."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    pass
