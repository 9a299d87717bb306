"""curation: redirects, import mappings, external ids, featured initiatives

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 22:30:35.285471

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():

    op.create_table(
        "slug_redirect",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_type", sa.String(length=40), nullable=False),
        sa.Column("old_slug", sa.String(length=200), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slug_redirect")),
        sa.UniqueConstraint("entity_type", "old_slug", name=op.f("uq_slug_redirect_entity_type")),
    )
    op.create_table(
        "import_mapping",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("entity_type", sa.String(length=40), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user.id"],
            name=op.f("fk_import_mapping_created_by_id_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_mapping")),
        sa.UniqueConstraint("entity_type", "name", name=op.f("uq_import_mapping_entity_type")),
    )
    with op.batch_alter_table("initiative", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("featured_position", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_initiative_external_id"), ["external_id"], unique=False
        )

    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=100), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_organisation_external_id"), ["external_id"], unique=False
        )


def downgrade():

    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organisation_external_id"))
        batch_op.drop_column("external_id")

    with op.batch_alter_table("initiative", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_initiative_external_id"))
        batch_op.drop_column("featured_position")
        batch_op.drop_column("external_id")

    op.drop_table("import_mapping")
    op.drop_table("slug_redirect")
