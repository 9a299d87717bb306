"""Jinja filters and globals shared by every template."""

from __future__ import annotations

import secrets

from flask import Flask, g


def csp_nonce() -> str:
    """One random nonce per request, for the few scripts the app generates inline."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def init_app(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce
