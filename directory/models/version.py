"""The catalogue's version: one row, bumped with every change to the catalogue."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class CatalogueVersion(db.Model):
    """See ``directory/catalogue_version.py`` for what moves each counter."""

    id: Mapped[int] = mapped_column(primary_key=True)
    epoch: Mapped[str] = mapped_column(sa.String(32))
    content: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    membership: Mapped[int] = mapped_column(sa.BigInteger, default=0)


@sa.event.listens_for(CatalogueVersion.__table__, "after_create")
def _first_row(table: sa.Table, connection: sa.Connection, **_kw) -> None:
    # A schema made by create_all (tests, first setup) has its row at once; migration 0005 too.
    connection.execute(
        table.insert().values(id=1, epoch=secrets.token_hex(8), content=0, membership=0)
    )
