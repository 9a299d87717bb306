"""PUBLIC_URL: read and checked by config, the only source of absolute links, and required by a
gunicorn start on a public address (deploy/gunicorn.conf.py)."""

from __future__ import annotations

import os
import subprocess
import urllib.request

import pytest
from flask import url_for
from servers import CONFIG, GUNICORN, free_port

from directory import create_app
from directory.config import ROOT, load_config, parse_public_url


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://Annuaire.Example.gouv.fr/", "https://annuaire.example.gouv.fr"),
        ("https://annuaire.example.gouv.fr:443", "https://annuaire.example.gouv.fr"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("  http://[::1]:8080  ", "http://[::1]:8080"),
        ("https://annuaire-é.example", "https://xn--annuaire--j4a.example"),
    ],
)
def test_public_url_is_written_one_way(value, expected):
    assert parse_public_url(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("annuaire.example.gouv.fr", "doit commencer par https://"),
        ("ftp://annuaire.example.gouv.fr", "doit commencer par https://"),
        ("https://", "il manque le nom du serveur"),
        ("https://annuaire.example.gouv.fr/annuaire", "ni chemin, ni paramètres, ni ancre"),
        ("https://annuaire.example.gouv.fr/?x=1", "ni chemin, ni paramètres, ni ancre"),
        ("https://annuaire.example.gouv.fr#haut", "ni chemin, ni paramètres, ni ancre"),
        ("https://moi:secret@annuaire.example.gouv.fr", "ni de mot de passe"),
        ("https://annuaire.example.gouv.fr:99999", "le port doit être un nombre"),
        ("https://annuaire_example.fr", "le nom du serveur est invalide"),
    ],
)
def test_a_bad_public_url_stops_the_configuration_in_french(tmp_path, value, reason):
    with pytest.raises(ValueError, match="PUBLIC_URL invalide") as error:
        load_config(tmp_path, {"PUBLIC_URL": value})
    assert reason in str(error.value)


def test_public_url_sets_the_trusted_hosts_and_the_link_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("PUBLIC_URL", "https://annuaire.example.gouv.fr")
    monkeypatch.setenv("TRUSTED_HOSTS", "sonde.interne, Autre.Example")
    config = load_config(tmp_path)
    assert config["PUBLIC_URL"] == "https://annuaire.example.gouv.fr"
    assert config["SERVER_NAME"] == "annuaire.example.gouv.fr"
    assert config["PREFERRED_URL_SCHEME"] == "https"
    # A public site trusts its own name and the names added, never the loopback ones.
    assert config["TRUSTED_HOSTS"] == ["annuaire.example.gouv.fr", "sonde.interne", "autre.example"]


def test_without_public_url_links_name_this_machine(tmp_path, monkeypatch):
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    monkeypatch.delenv("TRUSTED_HOSTS", raising=False)
    config = load_config(tmp_path)
    assert config["PUBLIC_URL"] is None
    assert config["SERVER_NAME"] == "localhost"
    assert config["TRUSTED_HOSTS"] == ["localhost", "127.0.0.1", "::1"]


def test_links_built_outside_a_request_use_public_url(app, tmp_path):
    """Mails sent from the command line (reminders, notifications) carry the canonical address."""
    public = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "public"),
            "DATABASE_URL": app.config["DATABASE_URL"],
            "PUBLIC_URL": "https://annuaire.example.gouv.fr",
        }
    )
    with public.app_context():
        link = url_for("auth.reset_password", token="jeton", _external=True)
    assert link == "https://annuaire.example.gouv.fr/reinitialiser/jeton"


def test_a_trusted_host_added_by_the_operator_is_served(app, tmp_path):
    public = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(tmp_path / "public"),
            "DATABASE_URL": app.config["DATABASE_URL"],
            "PUBLIC_URL": "https://annuaire.example.gouv.fr",
            "TRUSTED_HOSTS": "sonde.interne",
        }
    )
    client = public.test_client()
    response = client.get("/api/v1/openapi.json", headers={"Host": "sonde.interne:8000"})
    assert response.status_code == 200
    assert response.get_json()["servers"][0]["url"] == "https://annuaire.example.gouv.fr/api/v1"
    assert client.get("/", headers={"Host": "localhost"}).status_code == 400


def _gunicorn(bind: str, instance, database_url: str) -> subprocess.Popen:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PUBLIC_URL", "TRUSTED_HOSTS")
    }
    env.update(
        DIRECTORY_INSTANCE_PATH=str(instance),
        DATABASE_URL=database_url,
        SECRET_KEY="test-secret-key-not-for-production",
    )
    return subprocess.Popen(
        [str(GUNICORN), "-c", str(CONFIG), "--workers", "1", "--bind", bind,
         "directory:create_app()"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )  # fmt: skip


def test_gunicorn_refuses_a_public_address_without_public_url(databases, tmp_path):
    process = _gunicorn(f"0.0.0.0:{free_port()}", tmp_path / "instance", databases.seeded())
    try:
        output, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.communicate()
        pytest.fail("gunicorn a démarré sur 0.0.0.0 sans PUBLIC_URL")
    assert process.returncode != 0
    assert "PUBLIC_URL n’est pas défini" in output
    assert "https://annuaire.example.gouv.fr" in output


def test_gunicorn_starts_on_the_loopback_address_without_public_url(gunicorn_server):
    # An empty PUBLIC_URL counts as unset, as it does for every setting read from the environment.
    server = gunicorn_server(workers=1, env={"PUBLIC_URL": ""})
    assert "PUBLIC_URL" not in server.log()
    with urllib.request.urlopen(server("/api/v1/openapi.json"), timeout=30) as response:
        document = response.read().decode()
    assert '"url":"http://localhost/api/v1"' in document.replace(" ", "")
