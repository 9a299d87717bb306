"""Configuration: environment, instance folder, secret key, SQLite settings."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from directory import create_app
from directory.config import load_config, sqlalchemy_url
from directory.extensions import db
from directory.guards import access


def test_secret_key_is_generated_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = load_config(tmp_path)["SECRET_KEY"]
    second = load_config(tmp_path)["SECRET_KEY"]
    assert first == second
    assert len(first) >= 40
    assert (tmp_path / "secret_key").read_text() == first
    other = load_config(tmp_path / "other")["SECRET_KEY"]
    assert other != first


def test_environment_variables_override_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://someone@db.example/annuaire")
    monkeypatch.setenv("SEARCH_INDEX_DIR", str(tmp_path / "index"))
    config = load_config(tmp_path)
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://someone@db.example/annuaire"
    assert config["SEARCH_INDEX_DIR"] == str(tmp_path / "index")


def test_defaults_live_in_the_instance_folder(tmp_path, monkeypatch):
    for key in ("DATABASE_URL", "SEARCH_INDEX_DIR", "SECRET_KEY"):
        monkeypatch.delenv(key, raising=False)
    config = load_config(tmp_path)
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'annuaire.sqlite3'}"
    assert config["SEARCH_INDEX_DIR"] == str(tmp_path / "search-index")


def test_instance_config_file_is_read(tmp_path):
    (tmp_path / "config.py").write_text("PAGE_SIZE = 7\nlowercase_ignored = 1\n")
    config = load_config(tmp_path)
    assert config["PAGE_SIZE"] == 7
    assert "lowercase_ignored" not in config


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_postgres_urls_use_psycopg3(url, expected):
    assert sqlalchemy_url(url) == expected


def test_instance_path_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DIRECTORY_INSTANCE_PATH", str(tmp_path / "inst"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"TESTING": True})
    assert app.instance_path == str(tmp_path / "inst")
    assert (tmp_path / "inst" / "secret_key").exists()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    app = create_app(
        {
            "INSTANCE_PATH": str(tmp_path),
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        }
    )
    with app.app_context():
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
        db.engine.dispose()


def _remote_addr_app(tmp_path, proxies: int):
    app = create_app(
        {
            "INSTANCE_PATH": str(tmp_path),
            "TESTING": True,
            "PROXY_COUNT": proxies,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        }
    )

    @app.get("/_test/remote-addr")
    @access("public")
    def remote_addr():
        from flask import request

        return request.remote_addr or ""

    return app


def test_forwarded_for_is_ignored_without_a_configured_proxy(tmp_path):
    client = _remote_addr_app(tmp_path, 0).test_client()
    response = client.get(
        "/_test/remote-addr",
        headers={"X-Forwarded-For": "203.0.113.9"},
        environ_base={"REMOTE_ADDR": "10.0.0.1"},
    )
    assert response.text == "10.0.0.1"


def test_one_trusted_proxy_gives_the_client_address(tmp_path):
    client = _remote_addr_app(tmp_path, 1).test_client()
    response = client.get(
        "/_test/remote-addr",
        headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.9"},
        environ_base={"REMOTE_ADDR": "10.0.0.1"},
    )
    # Only the last hop, added by our own proxy, is trusted: a spoofed first entry is ignored.
    assert response.text == "203.0.113.9"


def test_mail_settings_from_the_environment_are_typed(tmp_path, monkeypatch):
    monkeypatch.setenv("MAIL_PORT", "2525")
    monkeypatch.setenv("MAIL_USE_TLS", "true")
    monkeypatch.setenv("MAIL_USE_SSL", "0")
    config = load_config(tmp_path)
    assert config["MAIL_PORT"] == 2525
    assert config["MAIL_USE_TLS"] is True
    assert config["MAIL_USE_SSL"] is False
    monkeypatch.setenv("MAIL_USE_TLS", "peut-être")
    with pytest.raises(ValueError, match="booléenne"):
        load_config(tmp_path)


def test_every_setting_has_its_default_in_the_configuration(tmp_path):
    config = load_config(tmp_path)
    assert config["PROPOSAL_RATE_LIMIT"] == "5 per hour"
    assert config["API_RATE_LIMIT"] == "300 per minute"
    assert config["IMPORT_MAX_BYTES"] == 20 * 1024 * 1024
    assert config["SEARCH_WRITER_TIMEOUT"] == 0.5
    assert config["THROTTLE_KEY_PREFIX"] == "annuaire-throttle"
    assert config["MAIL_PORT"] == 25
    assert config["MAIL_TIMEOUT"] == 10
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"
    with_redis = load_config(tmp_path, {"REDIS_URL": "redis://cache.example:6379/0"})
    assert with_redis["RATELIMIT_STORAGE_URI"] == "redis://cache.example:6379/0"


def test_timeouts_and_sizes_from_the_environment_are_typed(tmp_path, monkeypatch):
    monkeypatch.setenv("SEARCH_WRITER_TIMEOUT", "1.5")
    monkeypatch.setenv("MAIL_TIMEOUT", "3")
    monkeypatch.setenv("PAGE_SIZE", "50")
    monkeypatch.setenv("PASSWORD_RESET_MAX_AGE", "600")
    config = load_config(tmp_path)
    assert config["SEARCH_WRITER_TIMEOUT"] == 1.5
    assert config["MAIL_TIMEOUT"] == 3.0
    assert config["PAGE_SIZE"] == 50
    assert config["PASSWORD_RESET_MAX_AGE"] == 600


def test_session_cookies_are_secure_except_in_tests_and_debug(tmp_path, monkeypatch):
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    production = load_config(tmp_path)
    assert production["SESSION_COOKIE_SECURE"] is True
    assert production["REMEMBER_COOKIE_SECURE"] is True
    assert production["SESSION_COOKIE_HTTPONLY"] and production["REMEMBER_COOKIE_HTTPONLY"]
    assert production["SESSION_COOKIE_SAMESITE"] == production["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    assert load_config(tmp_path, {"TESTING": True})["SESSION_COOKIE_SECURE"] is False
    monkeypatch.setenv("FLASK_DEBUG", "1")
    assert load_config(tmp_path)["REMEMBER_COOKIE_SECURE"] is False
    long_memory = load_config(tmp_path, {"REMEMBER_COOKIE_DURATION": 365 * 86400})
    assert long_memory["REMEMBER_COOKIE_DURATION"].days == 30
