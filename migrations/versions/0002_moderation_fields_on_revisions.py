"""moderation fields on revisions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 22:00:55.357798

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("revision", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "action",
                sa.Enum(
                    "create",
                    "update",
                    "archive",
                    "unarchive",
                    "restore",
                    name="revisionaction",
                    native_enum=False,
                    create_constraint=True,
                    length=32,
                ),
                nullable=False,
                # Rows written before this migration were all updates.
                server_default="update",
            )
        )
        batch_op.add_column(sa.Column("organisation_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("proposer_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("proposer_email", sa.String(length=254), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_revision_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_revision_organisation_id_organisation"),
            "organisation",
            ["organisation_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade():
    with op.batch_alter_table("revision", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_revision_organisation_id_organisation"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_revision_organisation_id"))
        batch_op.drop_column("proposer_email")
        batch_op.drop_column("proposer_name")
        batch_op.drop_column("organisation_id")
        batch_op.drop_column("action")
