"""Blueprints, error pages, template helpers and the session user loader."""

from __future__ import annotations

from flask import Flask

from ..extensions import db, login_manager


def init_app(app: Flask) -> None:
    from .. import guards
    from ..api import bp as api_bp
    from . import embed, errors, feeds, pages, public, search, security, templating
    from . import map as map_views
    from . import sessions as session_lifetimes
    from .accounts_admin import bp as accounts_admin_bp
    from .auth import bp as auth_bp
    from .exports import bp as exports_bp
    from .health import bp as health_bp
    from .media import bp as media_bp
    from .members import bp as members_bp
    from .partner import bp as partner_bp
    from .proposals import bp as proposals_bp
    from .staff import bp as staff_bp
    from .staff_catalogue import bp as staff_catalogue_bp
    from .staff_events import bp as staff_events_bp
    from .staff_import import bp as staff_import_bp
    from .staff_merge import bp as staff_merge_bp
    from .staff_stats import bp as staff_stats_bp

    app.register_blueprint(public.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(search.bp)
    app.register_blueprint(map_views.bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(feeds.bp)
    app.register_blueprint(embed.bp)
    app.register_blueprint(proposals_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(members_bp)
    app.register_blueprint(accounts_admin_bp)
    app.register_blueprint(partner_bp)
    app.register_blueprint(media_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(staff_import_bp)
    app.register_blueprint(exports_bp)
    app.register_blueprint(staff_merge_bp)
    app.register_blueprint(staff_stats_bp)
    app.register_blueprint(staff_catalogue_bp)
    app.register_blueprint(staff_events_bp)
    app.register_blueprint(health_bp)
    errors.init_app(app)
    templating.init_app(app)
    security.init_app(app)
    session_lifetimes.init_app(app)  # before the guard: an expired session is anonymous
    guards.init_app(app)

    login_manager.login_view = "auth.login"
    login_manager.login_message = "Connectez-vous pour accéder à cette page."


@login_manager.user_loader
def load_user(user_id: str):
    """Sessions carry ``id:session_version``; a bumped version ends old sessions."""
    from ..models import User

    raw_id, _, raw_version = user_id.partition(":")
    if not (raw_id.isdigit() and raw_version.isdigit()):
        return None
    user = db.session.get(User, int(raw_id))
    if user is None or not user.active or user.session_version != int(raw_version):
        return None
    return user
