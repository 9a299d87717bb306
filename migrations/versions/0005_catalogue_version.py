"""catalogue version: one row bumped with every change to the catalogue (the caches' key)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 13:00:00.000000

"""

import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        "catalogue_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.String(length=32), nullable=False),
        sa.Column("content", sa.BigInteger(), nullable=False),
        sa.Column("membership", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_version")),
    )
    op.bulk_insert(table, [{"id": 1, "epoch": secrets.token_hex(8), "content": 0, "membership": 0}])


def downgrade():
    op.drop_table("catalogue_version")
