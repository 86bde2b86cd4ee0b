"""class accounts: the class an account belongs to, and when its data was wiped

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 23:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("class_name", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("wiped_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_users_class_name"), ["class_name"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_class_name"))
        batch_op.drop_column("wiped_at")
        batch_op.drop_column("class_name")
