"""Public pages: home, initiatives, organisations, events, territories, legal pages."""

from flask import Blueprint

bp = Blueprint("public", __name__)
