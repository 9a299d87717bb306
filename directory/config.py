"""Configuration: defaults, then environment variables, then ``instance/config.py``.

Nothing here runs at import time: ``load_config`` is called by ``create_app``.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent

ENV_KEYS = (
    "DATABASE_URL",
    "SECRET_KEY",
    "SEARCH_INDEX_DIR",
    "SEARCH_INDEXER",
    "MAP_TILES_URL",
    "MAP_TILES_ATTRIBUTION",
    "REDIS_URL",
    "PROXY_COUNT",
    "MAIL_SERVER",
    "MAIL_PORT",
    "MAIL_USERNAME",
    "MAIL_PASSWORD",
    "MAIL_USE_TLS",
    "MAIL_USE_SSL",
    "MAIL_DEFAULT_SENDER",
    "SESSION_COOKIE_SECURE",
    "AUTH_RATE_LIMIT_PER_EMAIL",
    "AUTH_RATE_LIMIT_PER_ADDRESS",
    "PUBLIC_URL",
    "TRUSTED_HOSTS",
    "SESSION_IDLE_TIMEOUT",
    "SESSION_MAX_AGE",
    "PROPOSAL_RATE_LIMIT",
    "INVITATION_RATE_LIMIT",
    "THROTTLE_KEY_PREFIX",
    "API_RATE_LIMIT",
    "IMPORT_MAX_BYTES",
    "PAGE_SIZE",
    "MAX_CONTENT_LENGTH",
    "PASSWORD_RESET_RATE_LIMIT_PER_EMAIL",
    "PASSWORD_RESET_RATE_LIMIT_PER_ADDRESS",
    "INVITATION_MAX_AGE",
    "PASSWORD_RESET_MAX_AGE",
    "MAIL_TIMEOUT",
    "SEARCH_WRITER_TIMEOUT",
    "LEGAL_PUBLISHER",
    "LEGAL_HOST",
    "LEGAL_CONTACT",
)

# Environment variables are strings: these keys are turned into the type the app expects.
_BOOLEAN_KEYS = ("MAIL_USE_TLS", "MAIL_USE_SSL", "SESSION_COOKIE_SECURE")
_INTEGER_KEYS = (
    "MAIL_PORT",
    "PROXY_COUNT",
    "SESSION_IDLE_TIMEOUT",
    "SESSION_MAX_AGE",
    "IMPORT_MAX_BYTES",
    "PAGE_SIZE",
    "MAX_CONTENT_LENGTH",
    "INVITATION_MAX_AGE",
    "PASSWORD_RESET_MAX_AGE",
)
_FLOAT_KEYS = ("MAIL_TIMEOUT", "SEARCH_WRITER_TIMEOUT")
_TRUE = {"1", "true", "yes", "on", "oui"}
_FALSE = {"0", "false", "no", "off", "non", ""}


def parse_bool(value: Any) -> bool:
    """``"1"``, ``"true"``, ``"yes"``, ``"on"`` → True; ``"0"``, ``"false"``, ``""``... → False."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"valeur booléenne invalide : {value!r}")
    return bool(value)


def _coerce_types(config: dict[str, Any]) -> None:
    for key in _BOOLEAN_KEYS:
        if key in config and config[key] is not None:
            config[key] = parse_bool(config[key])
    for key in _INTEGER_KEYS:
        if isinstance(config.get(key), str):
            config[key] = int(config[key].strip() or 0)
    for key in _FLOAT_KEYS:
        if isinstance(config.get(key), str):
            config[key] = float(config[key].strip() or 0)


# Without PUBLIC_URL (development, tests) links name the machine itself, as the test client does.
DEFAULT_PUBLIC_URL = "http://localhost"
# The names a developer's own machine answers to; trusted only when the site is not public.
# (Werkzeug 3.1 cannot match a bracketed IPv6 Host such as ``[::1]`` against a trusted name.)
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
# A domain name, an IPv4 address or an IPv6 address (without its brackets).
_HOST_NAME = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|[0-9a-f:.]*:[0-9a-f:.]*")


def _public_url_problem(text: str) -> str | None:
    """What is wrong with a ``PUBLIC_URL`` value, in French, or ``None``."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return "le port doit être un nombre entre 1 et 65535"
    if parts.scheme not in ("http", "https"):
        return "l’adresse doit commencer par https:// (ou http:// pour un essai)"
    if not parts.hostname:
        return "il manque le nom du serveur"
    if parts.username is not None or parts.password is not None:
        return "l’adresse ne doit pas contenir d’identifiant ni de mot de passe"
    if parts.path not in ("", "/") or "?" in text or "#" in text:
        return "l’adresse ne doit contenir ni chemin, ni paramètres, ni ancre"
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        host = ""
    if not _HOST_NAME.fullmatch(host):
        return "le nom du serveur est invalide"
    return None


def parse_public_url(value: str) -> str:
    """``PUBLIC_URL`` checked and written as ``scheme://host[:port]``, or a French ValueError."""
    text = str(value).strip()
    problem = _public_url_problem(text)
    if problem is not None:
        raise ValueError(
            f"PUBLIC_URL invalide ({text!r}) : {problem}. "
            "Exemple attendu : https://annuaire.example.gouv.fr"
        )
    parts = urlsplit(text)
    host = parts.hostname.encode("idna").decode("ascii")
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None and parts.port != {"http": 80, "https": 443}[parts.scheme]:
        netloc += f":{parts.port}"
    return f"{parts.scheme}://{netloc}"


def public_url(config: Mapping[str, Any]) -> str:
    """The canonical address every absolute link is made from (no trailing slash)."""
    return config.get("PUBLIC_URL") or DEFAULT_PUBLIC_URL


def is_loopback(host: str) -> bool:
    """``localhost``, ``127.0.0.1``, ``::1`` and the rest of 127.0.0.0/8."""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split_names(value: str | Iterable[str] | None) -> list[str]:
    names = value.split(",") if isinstance(value, str) else list(value or ())
    return [name.strip().lower() for name in names if name.strip()]


def _configure_public_url(config: dict[str, Any]) -> None:
    """Derive Flask's link and Host settings from ``PUBLIC_URL`` alone.

    ``SERVER_NAME`` and ``PREFERRED_URL_SCHEME`` give links built outside a request (mails from
    the command line); ``TRUSTED_HOSTS`` makes Flask refuse any other ``Host`` with a 400.
    """
    value = config.get("PUBLIC_URL")
    config["PUBLIC_URL"] = parse_public_url(value) if value else None
    parts = urlsplit(public_url(config))
    config["SERVER_NAME"] = parts.netloc
    config["PREFERRED_URL_SCHEME"] = parts.scheme
    names = [parts.hostname or "localhost"]
    if is_loopback(names[0]):
        names.extend(LOOPBACK_HOSTS)
    names.extend(_split_names(config.get("TRUSTED_HOSTS")))
    config["TRUSTED_HOSTS"] = list(dict.fromkeys(names))


def _binds_publicly(address: str) -> bool:
    """True for a gunicorn ``--bind`` other than a loopback TCP address (unix sockets too:
    a proxy serves them to the public)."""
    if address.startswith(("unix:", "fd://")):
        return True
    host = address if address.endswith("]") else address.rsplit(":", 1)[0]
    # An empty host (``:8000``) listens on every interface.
    return not (host and is_loopback(host))


def check_public_url_for_start(binds: Iterable[str], instance_path: Path | None = None) -> None:
    """Refuse to serve on a public address without ``PUBLIC_URL`` (RuntimeError, in French).

    Called by the gunicorn master before it listens (deploy/gunicorn.conf.py): without the
    canonical address every link would name ``localhost`` and every visitor's Host be refused.
    """
    local = _instance_settings(instance_path or instance_path_from_env())
    value = local.get("PUBLIC_URL", os.environ.get("PUBLIC_URL"))
    if value:
        try:
            parse_public_url(value)
        except ValueError as error:
            raise RuntimeError(str(error)) from None
        return
    public = [address for address in binds if _binds_publicly(address)]
    if public:
        raise RuntimeError(
            f"PUBLIC_URL n’est pas défini alors que le serveur écoute sur {', '.join(public)}. "
            "Indiquez l’adresse publique du site, par exemple "
            "PUBLIC_URL=https://annuaire.example.gouv.fr, ou écoutez sur 127.0.0.1 pour un "
            "essai sur cette machine."
        )


def instance_path_from_env() -> Path:
    return Path(os.environ.get("DIRECTORY_INSTANCE_PATH", ROOT / "instance")).resolve()


def _secret_key(instance_path: Path) -> str:
    """Read the instance's secret key, creating it on first use (never a constant in code)."""
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting at once must agree on one key.
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def _instance_settings(instance_path: Path) -> dict[str, Any]:
    """The upper-case names of ``instance/config.py``, the operator's own file."""
    local = instance_path / "config.py"
    if not local.exists():
        return {}
    namespace: dict[str, Any] = {}
    exec(compile(local.read_text(), str(local), "exec"), namespace)  # noqa: S102 - operator's own file
    return {k: v for k, v in namespace.items() if k.isupper()}


def sqlalchemy_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgres://`` / ``postgresql://`` URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_config(instance_path: Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the configuration mapping for one app."""
    # Private: it holds the database, the secret key and mails carrying reset links.
    instance_path.mkdir(mode=0o700, parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "DATABASE_URL": f"sqlite:///{instance_path / 'annuaire.sqlite3'}",
        "SEARCH_INDEX_DIR": str(instance_path / "search-index"),
        "MAP_TILES_URL": (
            "https://data.geopf.fr/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
            "&LAYER=GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2&STYLE=normal&FORMAT=image/png"
            "&TILEMATRIXSET=PM&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}"
        ),
        "MAP_TILES_ATTRIBUTION": "© IGN – Géoplateforme",
        # Counters of the limits in Redis rather than in the database (services/throttle.py).
        "REDIS_URL": None,
        # Several instances sharing one Redis keep their counters apart with their own prefix.
        "THROTTLE_KEY_PREFIX": "annuaire-throttle",
        # Number of reverse proxies in front of the app (ProxyFix); 0 when served directly.
        "PROXY_COUNT": 0,
        # Search results per page.
        "PAGE_SIZE": 20,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # Largest request body, in bytes (Flask answers 413 beyond).
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        # Largest imported file, in bytes (web and command line).
        "IMPORT_MAX_BYTES": 20 * 1024 * 1024,
        # Seconds a save waits for the search index writer before leaving the work to the
        # outbox (search/indexing.py): a slow index must not slow every save down.
        "SEARCH_WRITER_TIMEOUT": 0.5,
        # Who applies saved changes to the search index: "request" (the saving request, after
        # its commit) or "worker" (only ``flask search worker``, which the shipped gunicorn
        # config starts beside the web workers: a save then never holds a web worker).
        "SEARCH_INDEXER": "request",
        # Sessions (issue #5). Secure cookies are switched on below outside debug and tests.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_DURATION": timedelta(days=30),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # Flask-Login's name: a cookie left by an earlier version is deleted (web/sessions.py).
        "REMEMBER_COOKIE_NAME": "remember_token",
        # Sign-in attempts ("5 per minute;20 per hour"), counted per account and per address.
        "AUTH_RATE_LIMIT_PER_EMAIL": "5 per minute;20 per hour",
        "AUTH_RATE_LIMIT_PER_ADDRESS": "30 per hour",
        # Password reset requests, per address asked for and per client address.
        "PASSWORD_RESET_RATE_LIMIT_PER_EMAIL": "3 per hour",
        "PASSWORD_RESET_RATE_LIMIT_PER_ADDRESS": "20 per hour",
        # Invitations sent, per inviting account.
        "INVITATION_RATE_LIMIT": "20 per hour",
        # Public proposals, per client address.
        "PROPOSAL_RATE_LIMIT": "5 per hour",
        # API requests, per client address: protects capacity, not accounts (api/limits.py).
        "API_RATE_LIMIT": "300 per minute",
        # Flask-Limiter, which counts the API only. An unreachable Redis must not take the API
        # down: it counts in memory meanwhile. RATELIMIT_STORAGE_URI follows REDIS_URL (below).
        "RATELIMIT_HEADERS_ENABLED": True,
        "RATELIMIT_KEY_PREFIX": "annuaire-api",
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        # Lifetime of the links sent by mail, in seconds.
        "INVITATION_MAX_AGE": 7 * 24 * 3600,
        "PASSWORD_RESET_MAX_AGE": 3600,
        # Outgoing mail: none configured means messages go to instance/outbox/ (services/mail.py).
        "MAIL_SERVER": None,
        "MAIL_PORT": 25,
        "MAIL_USE_TLS": False,
        "MAIL_USE_SSL": False,
        # No user name: no SMTP login.
        "MAIL_USERNAME": None,
        "MAIL_PASSWORD": "",
        "MAIL_DEFAULT_SENDER": (
            "Annuaire de l'innovation sociale <ne-pas-repondre@annuaire.invalid>"
        ),
        # Seconds before giving up on the mail server (a mail left unsent is logged).
        "MAIL_TIMEOUT": 10,
        # The operator's own details on the legal pages (several lines allowed); without them
        # the pages say the operator provides them.
        "LEGAL_PUBLISHER": None,
        "LEGAL_HOST": None,
        "LEGAL_CONTACT": None,
        # The canonical address every absolute link is made from (mails, API, feeds, exports).
        "PUBLIC_URL": None,
        # Signed-in sessions end after this many seconds without a request, and at the latest
        # this many seconds after sign-in (checked on the server at each request).
        "SESSION_IDLE_TIMEOUT": 30 * 60,
        "SESSION_MAX_AGE": 12 * 3600,
    }
    for key in ENV_KEYS:
        if os.environ.get(key):
            config[key] = os.environ[key]
    config.update(_instance_settings(instance_path))
    config.update(overrides or {})
    _coerce_types(config)
    _configure_public_url(config)
    config.setdefault("RATELIMIT_STORAGE_URI", config["REDIS_URL"] or "memory://")
    # Cookies only over HTTPS in production; a developer's http://localhost keeps working.
    debug = config.get("DEBUG") or os.environ.get("FLASK_DEBUG", "").strip().lower() in _TRUE
    secure = not (config.get("TESTING") or debug)
    config.setdefault("SESSION_COOKIE_SECURE", secure)
    config.setdefault("REMEMBER_COOKIE_SECURE", config["SESSION_COOKIE_SECURE"])
    if config["SESSION_COOKIE_SECURE"] and not config.get("SESSION_COOKIE_DOMAIN"):
        # __Host-: the browser keeps it only if Secure, for path / and this exact host.
        config.setdefault("SESSION_COOKIE_NAME", "__Host-session")
    if str(config.get("SESSION_COOKIE_NAME", "")).startswith("__Host-"):
        config["SESSION_COOKIE_PATH"] = "/"
    # The signed cookie itself is refused past the longest a session may last.
    config.setdefault(
        "PERMANENT_SESSION_LIFETIME", timedelta(seconds=int(config["SESSION_MAX_AGE"]))
    )
    remember = config["REMEMBER_COOKIE_DURATION"]
    if not isinstance(remember, timedelta):
        remember = timedelta(seconds=int(remember))
    config["REMEMBER_COOKIE_DURATION"] = min(remember, timedelta(days=30))
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _secret_key(instance_path)
    config["SQLALCHEMY_DATABASE_URI"] = sqlalchemy_url(config["DATABASE_URL"])
    return config
