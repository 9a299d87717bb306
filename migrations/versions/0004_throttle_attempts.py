"""throttle attempts: sign-in, reset, invitation and proposal counters shared by every worker

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():

    op.create_table(
        "throttle_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_throttle_attempt")),
    )
    with op.batch_alter_table("throttle_attempt", schema=None) as batch_op:
        batch_op.create_index("ix_throttle_attempt_key_at", ["key", "at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_throttle_attempt_expires_at"), ["expires_at"], unique=False
        )


def downgrade():

    with op.batch_alter_table("throttle_attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_throttle_attempt_expires_at"))
        batch_op.drop_index("ix_throttle_attempt_key_at")

    op.drop_table("throttle_attempt")
