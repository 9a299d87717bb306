"""Lifetimes of signed-in sessions, and sign-in over plain http (issue #13, point 4).

Every signed-in session records when it was opened and when it was last used. The session
cookie is signed, so these times cannot be rewritten by the client; a copied cookie replayed
later still carries its old opening time. At each request a session idle for
``SESSION_IDLE_TIMEOUT`` seconds, or opened more than ``SESSION_MAX_AGE`` seconds ago, is
signed out; a protected page then sends the person to the sign-in page. A session without
these times (opened by an earlier version, or by a remember-me cookie) is refused the same way.

"Remember me" is not offered: Flask-Login's remember cookie is ignored and deleted, so no
cookie outlives these limits.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, flash, redirect, request, session, url_for
from flask_login import login_url, logout_user

from ..extensions import login_manager
from ..guards import route_access

OPENED_AT = "_opened_at"
SEEN_AT = "_seen_at"
# The last-used time is rewritten at most this often, so the cookie is not re-issued on
# every request; the idle timeout then holds to within this many seconds.
REFRESH_EVERY = 60
EXPIRED_MESSAGE = "Votre session a expiré, reconnectez-vous."
USER_KEY = "_user_id"  # where Flask-Login keeps the signed-in account


def start(stored: MutableMapping[str, Any], now: float | None = None) -> None:
    """Stamp a session that has just been opened (sign-in, invitation or reset link)."""
    stamp = int(time.time() if now is None else now)
    stored[OPENED_AT] = stamp
    stored[SEEN_AT] = stamp


def expired(stored: MutableMapping[str, Any], now: int, idle: int, max_age: int) -> bool:
    """Whether a signed-in session is past either limit (or carries no valid times)."""
    opened, seen = stored.get(OPENED_AT), stored.get(SEEN_AT)
    if not (isinstance(opened, int) and isinstance(seen, int)):
        return True
    return now - opened >= max_age or now - seen >= idle


def signed_in() -> bool:
    """Whether this request's session belongs to a signed-in person."""
    return session.get(USER_KEY) is not None


def _refresh_interval(idle: int) -> int:
    # Tiny timeouts (trials, tests) still hold: refresh at least twice per idle period.
    return max(1, min(REFRESH_EVERY, idle // 2))


def _forget_remember_cookie() -> None:
    """Never sign anyone in from a remember-me cookie (issued by earlier versions): Flask-Login
    skips a cookie marked "clear" and deletes it with the response."""
    name = current_app.config["REMEMBER_COOKIE_NAME"]
    if name in request.cookies:
        session["_remember"] = "clear"


def check_session_lifetime() -> Any:
    """Sign out an expired session; a protected page then answers with the sign-in page."""
    _forget_remember_cookie()
    if not signed_in():
        return None
    config = current_app.config
    idle, max_age = config["SESSION_IDLE_TIMEOUT"], config["SESSION_MAX_AGE"]
    now = int(time.time())
    if not expired(session, now, idle, max_age):
        if now - session[SEEN_AT] >= _refresh_interval(idle):
            session[SEEN_AT] = now
        return None
    session.clear()
    logout_user()  # after clear(): it marks a remember-me cookie for deletion
    if request.endpoint is None or route_access(current_app, request.endpoint) == "public":
        return None  # public pages go on, for an anonymous visitor
    flash(EXPIRED_MESSAGE, "warning")
    return redirect(login_url(login_manager.login_view, request.url))


def _hostname() -> str:
    """The request's host name without its port (lower case), or "" when malformed."""
    try:
        return urlsplit("//" + request.host).hostname or ""
    except ValueError:  # an unbalanced IPv6 bracket
        return ""


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def https_required() -> bool:
    """Whether sign-in cannot work here: the session cookie is ``Secure`` but the page came
    over plain http from an address other than this machine, so the browser never sends
    the cookie (nor its CSRF token) back."""
    if not current_app.config["SESSION_COOKIE_SECURE"] or request.scheme != "http":
        return False
    return not _is_loopback(_hostname())


def https_address(endpoint: str) -> str:
    """The https address of ``endpoint`` on the host this page was asked for (default port)."""
    host = _hostname()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"https://{host}{url_for(endpoint)}"


def _positive_seconds(app: Flask, key: str) -> int:
    value = app.config[key]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{key} doit être un nombre de secondes positif (reçu : {value!r}).")
    return value


def init_app(app: Flask) -> None:
    _positive_seconds(app, "SESSION_IDLE_TIMEOUT")
    _positive_seconds(app, "SESSION_MAX_AGE")
    # Registered before the route guard, so that the guard sees the outcome.
    app.before_request(check_session_lifetime)
