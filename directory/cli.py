"""Thin CLI commands (``flask --app directory ...``) that call the services."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext


def init_app(app: Flask) -> None:
    app.cli.add_command(setup_command)
    app.cli.add_command(demo_data_command)
    app.cli.add_command(users_cli)
    from .search.cli import search_cli

    app.cli.add_command(search_cli)
    from .cli_export import export_cli

    app.cli.add_command(export_cli)
    from .cli_exchange import import_command

    app.cli.add_command(import_command)
    from .cli_backup import backup_cli

    app.cli.add_command(backup_cli)


@click.command("setup")
@with_appcontext
def setup_command() -> None:
    """Migrate the database, load the gazetteer and the seed catalogue (idempotent)."""
    from .services import setup

    setup.run(echo=click.echo)


@click.command("demo-data")
@with_appcontext
@click.option(
    "--count",
    type=click.IntRange(min=1, max=1_000_000),
    default=1000,
    show_default=True,
    help="Nombre d'initiatives de démonstration à créer.",
)
@click.option("--remove", is_flag=True, help="Supprimer toutes les données de démonstration.")
@click.option(
    "--no-index",
    is_flag=True,
    help="Ne pas reconstruire l'index de recherche (à faire ensuite : search rebuild).",
)
@click.option(
    "--seed",
    "random_seed",
    type=int,
    default=None,
    help="Graine aléatoire (résultats reproductibles).",
)
def demo_data_command(count: int, remove: bool, no_index: bool, random_seed: int | None) -> None:
    """Add (or remove) generated demo initiatives, organisations and places."""
    from .search.cli import rebuild_with_progress
    from .services import demo

    if remove:
        removed = demo.remove_demo_data()
        click.echo(
            f"Données de démonstration supprimées — initiatives : {removed['initiatives']}, "
            f"organisations : {removed['organisations']}."
        )
    else:
        try:
            created = demo.create_demo_data(count, seed=random_seed, progress=True)
        except demo.DemoDataError as error:
            raise click.ClickException(str(error)) from error
        click.echo(
            f"Données de démonstration créées — initiatives : {created['initiatives']}, "
            f"organisations : {created['organisations']}, lieux : {created['places']}."
        )
    # Bulk writes bypass the change outbox: the index is rebuilt from the database instead.
    if no_index:
        click.echo("Index de recherche non reconstruit : lancez « search rebuild ».")
    else:
        rebuild_with_progress()


users_cli = AppGroup("users", help="Gérer les comptes.")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", default="")
@click.option("--role", type=click.Choice(["partner", "curator", "admin"]), required=True)
@click.option(
    "--organisation",
    "organisation_slug",
    default=None,
    help="Slug de l'organisation (comptes partenaires).",
)
@click.option("--password-stdin", is_flag=True, help="Lire le mot de passe sur l'entrée standard.")
def create_user_command(
    email: str, name: str, role: str, organisation_slug: str | None, password_stdin: bool
) -> None:
    """Create an account (asks for the password)."""
    from .services import accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Mot de passe", hide_input=True, confirmation_prompt=True)
    try:
        user = accounts.create_user(
            email=email,
            name=name,
            role=role,
            password=password,
            organisation_slug=organisation_slug,
        )
    except accounts.AccountError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Compte créé : {user.email} ({user.role.label}).")
