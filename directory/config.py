"""Configuration: defaults, then environment variables, then ``instance/config.py``.

Nothing here runs at import time: ``load_config`` is called by ``create_app``.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

ENV_KEYS = (
    "DATABASE_URL",
    "SECRET_KEY",
    "SEARCH_INDEX_DIR",
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
)

# Environment variables are strings: these keys are turned into the type the app expects.
_BOOLEAN_KEYS = ("MAIL_USE_TLS", "MAIL_USE_SSL", "SESSION_COOKIE_SECURE")
_INTEGER_KEYS = (
    "MAIL_PORT",
    "PROXY_COUNT",
    "SESSION_IDLE_TIMEOUT",
    "SESSION_MAX_AGE",
    "IMPORT_MAX_BYTES",
)
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
        "REDIS_URL": None,
        # Number of reverse proxies in front of the app (ProxyFix); 0 when served directly.
        "PROXY_COUNT": 0,
        "PAGE_SIZE": 20,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        # Sessions (issue #5). Secure cookies are switched on below outside debug and tests.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_DURATION": timedelta(days=30),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # Sign-in attempts ("5 per minute;20 per hour"), counted per account and per address.
        "AUTH_RATE_LIMIT_PER_EMAIL": "5 per minute;20 per hour",
        "AUTH_RATE_LIMIT_PER_ADDRESS": "30 per hour",
        # Password reset requests, per address asked for and per client address.
        "PASSWORD_RESET_RATE_LIMIT_PER_EMAIL": "3 per hour",
        "PASSWORD_RESET_RATE_LIMIT_PER_ADDRESS": "20 per hour",
        # Invitations sent, per inviting account.
        "INVITATION_RATE_LIMIT": "20 per hour",
        # Lifetime of the links sent by mail, in seconds.
        "INVITATION_MAX_AGE": 7 * 24 * 3600,
        "PASSWORD_RESET_MAX_AGE": 3600,
        # Outgoing mail: none configured means messages go to instance/outbox/ (services/mail.py).
        "MAIL_SERVER": None,
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
    local = instance_path / "config.py"
    if local.exists():
        namespace: dict[str, Any] = {}
        exec(compile(local.read_text(), str(local), "exec"), namespace)  # noqa: S102 - operator's own file
        config.update({k: v for k, v in namespace.items() if k.isupper()})
    config.update(overrides or {})
    _coerce_types(config)
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
