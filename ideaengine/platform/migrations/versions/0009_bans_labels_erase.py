"""Bans, status labels and erased users

users gain the ban columns (when, until when, why, by whom) and erased_at; boards gain status_labels, the
board's own words for the seven statuses. Every column is nullable, so existing rows need no value: nobody
is banned or erased and every board uses the default labels. Downgrading drops them: bans are lifted,
custom labels forgotten, and erased users stay erased (their personal data is gone either way).

Revision ID: 0009_bans_labels_erase
Revises: 0006_first_status
Create Date: 2026-12-09 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_bans_labels_erase"
down_revision: str | None = "0008_comments_unmerge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("banned_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("banned_until", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("ban_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("banned_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_users_banned_by_id_users"), "users", ["banned_by_id"], ["id"], ondelete="SET NULL"
        )
    with op.batch_alter_table("boards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_labels", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("boards", schema=None) as batch_op:
        batch_op.drop_column("status_labels")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_users_banned_by_id_users"), type_="foreignkey")
        batch_op.drop_column("erased_at")
        batch_op.drop_column("banned_by_id")
        batch_op.drop_column("ban_reason")
        batch_op.drop_column("banned_until")
        batch_op.drop_column("banned_at")
