"""Threat: any local user of the server reads the instance's private files.

With the usual umask (022) the instance folder was 0755 and its files 0644: another account on
the machine (a shared host, a compromised service running under its own user) could copy the
database (accounts, password hashes), the secret key (forge a session cookie for any account)
or the outbox, where each mail carries a live password-reset or invitation link. Each test
starts from such a umask, as a shell or a service manager gives, and checks that the app keeps
every file it writes to its own user, and that ``flask setup`` repairs an older instance.
"""

from __future__ import annotations

import io
import os
import stat
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from factories import make_organisation, make_user
from PIL import Image
from sqlalchemy.engine import make_url

from directory import create_app
from directory.extensions import db
from directory.models import Organisation, User
from directory.services import workflow

OTHERS = stat.S_IRWXG | stat.S_IRWXO


@pytest.fixture(autouse=True)
def usual_umask():
    """Start each test (and the app it builds) with the umask a login shell gives."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _readable_by_others(folder: Path) -> list[str]:
    """Everything under ``folder`` (itself included) that group or others may use."""
    paths = [folder, *folder.rglob("*")]
    return [f"{path} {_mode(path):04o}" for path in paths if _mode(path) & OTHERS]


def _sqlite_database(app) -> Path | None:
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    return Path(url.database).resolve() if url.drivername.startswith("sqlite") else None


def test_a_fresh_instance_is_private(tmp_path):
    instance = tmp_path / "instance"
    # No DATABASE_URL, no SECRET_KEY: the database and the key file are made in the instance.
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(instance)})
    result = app.test_cli_runner().invoke(args=["setup"])
    assert result.exit_code == 0, result.output
    database = instance / "annuaire.sqlite3"
    with app.app_context():
        # A connection open in WAL mode: the -wal and -shm files exist while the app runs.
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT count(*) FROM initiative")).scalar()
            private = [
                instance,
                database,
                Path(f"{database}-wal"),
                Path(f"{database}-shm"),
                instance / "secret_key",
            ]
            assert _mode(instance) == 0o700
            for path in private[1:]:
                assert _mode(path) == 0o600, path
            assert (instance / "search-index").is_dir()
            assert _readable_by_others(instance) == []
        db.session.remove()
        db.engine.dispose()
    assert "Aucun droit à corriger" in result.output


def _user(app, email: str) -> None:
    with app.app_context():
        make_user(organisation=make_organisation(), email=email)
        db.session.commit()


def test_a_reset_mail_in_the_outbox_is_private(app, client, csrf_token):
    _user(app, "camille@example.org")
    response = client.post(
        "/mot-de-passe-oublie",
        data={"email": "camille@example.org", "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 200
    outbox = Path(app.instance_path) / "outbox"
    # The mail may leave after the response: wait for it (a bound, not a timing assertion).
    deadline = time.monotonic() + 10
    while not list(outbox.glob("*.eml")) and time.monotonic() < deadline:
        time.sleep(0.05)
    (mail,) = outbox.glob("*.eml")
    assert "/reinitialiser/" in mail.read_text().replace("=\n", "")
    assert _mode(mail) == 0o600
    assert _mode(outbox) == 0o700
    assert _readable_by_others(Path(app.instance_path)) == []


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def _organisation_form(app, slug: str, name: str) -> dict:
    with app.app_context():
        organisation = db.session.scalar(sa.select(Organisation).where(Organisation.slug == slug))
        token = workflow.edit_token(organisation)
    return {
        "name": name,
        "kind": "association",
        "description": "Présentation.",
        "commune": "Avignon",
        "token": token,
        "logo": (io.BytesIO(_png()), "logo.png"),
    }


def test_uploaded_logos_are_private_and_still_served(app, client, sign_in, csrf_token):
    """A trusted partner's logo (published at once) and a partner's proposed one."""
    with app.app_context():
        trusted = make_organisation(name="Collectif de confiance", slug="collectif-confiance")
        trusted.trusted = True
        alpha = make_organisation(name="Association Alpha", slug="association-alpha")
        trusted_member = make_user(organisation=trusted)
        member = make_user(organisation=alpha)
        db.session.commit()
    for user, slug, name in (
        (trusted_member, "collectif-confiance", "Collectif de confiance"),
        (member, "association-alpha", "Association Alpha"),
    ):
        partner = app.test_client()
        sign_in(partner, user)
        data = _organisation_form(app, slug, name)
        response = partner.post(
            f"/espace-partenaire/organisations/{slug}/modifier",
            data={**data, "csrf_token": csrf_token(partner)},
        )
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    instance = Path(app.instance_path)
    images = [path for path in instance.rglob("*") if path.suffix in (".png", ".jpg", ".webp")]
    assert len(images) == 2, images
    assert _readable_by_others(instance) == []
    # The app reads its private files itself: the published logo is still served to everyone.
    with app.app_context():
        logo_path = db.session.scalar(
            sa.select(Organisation.logo_path).where(Organisation.slug == "collectif-confiance")
        )
    assert logo_path
    served = client.get(f"/medias/{logo_path}")
    assert served.status_code == 200
    assert served.mimetype == "image/png"


def test_setup_repairs_an_instance_left_readable(app, runner):
    instance = Path(app.instance_path).resolve()
    with app.app_context():
        make_user(email="ancien@example.org")
        db.session.commit()
        db.session.remove()
    # An instance as an earlier version left it: a mail, the key, the operator's settings (mail
    # password...), all world-readable.
    for name, content in (
        ("outbox/20240101-reset.eml", "Lien : /reinitialiser/jeton"),
        ("secret_key", "clé"),
        ("config.py", "# Réglages locaux\n"),
    ):
        (instance / name).parent.mkdir(parents=True, exist_ok=True)
        (instance / name).write_text(content)
    database = _sqlite_database(app)
    readable = [*instance.rglob("*"), *([database] if database else [])]
    for path in [instance, *readable]:
        path.chmod(0o755 if path.is_dir() else 0o644)

    result = runner.invoke(args=["setup"])

    assert result.exit_code == 0, result.output
    assert _readable_by_others(instance) == []
    assert _mode(instance) == 0o700
    assert _mode(instance / "outbox") == 0o700
    assert _mode(instance / "outbox" / "20240101-reset.eml") == 0o600
    assert _mode(instance / "secret_key") == 0o600
    if database:  # outside the instance folder: repaired too (file only, not its folder)
        assert _mode(database) == 0o600
    # Each repair is named, with the old and new mode.
    assert f"{instance / 'outbox' / '20240101-reset.eml'} : 0644 → 0600" in result.output
    assert f"{instance} : 0755 → 0700" in result.output
    for path in readable:
        assert str(path) in result.output, path
    with app.app_context():  # the database still works
        assert db.session.scalar(sa.select(User.id).where(User.email == "ancien@example.org"))
        db.session.remove()
    again = runner.invoke(args=["setup"])
    assert again.exit_code == 0, again.output
    assert "Aucun droit à corriger" in again.output
